"""Merges the Rust and Python results of bench/compare/run into one table (itops = 1.0)."""

import json
import re
import sys

rust = json.load(open(sys.argv[1]))
python = json.load(open(sys.argv[2]))
lock = open(sys.argv[3]).read()
machine = open(sys.argv[4]).read().strip()


def locked(name):
    m = re.search(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), lock)
    return m.group(1) if m else "?"


def fmt_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.2f} µs"


def fmt_bytes(b):
    return f"{b / 1024:.1f} KiB"


def ratio(x, base):
    r = x / base
    if r >= 100:
        return f"{r:,.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


def step(rows, engine, n):
    return next(r for r in rows if r["engine"] == engine and r["n"] == n)


def mem(rows, engine, mode):
    return next(r for r in rows if r["engine"] == engine and r["mode"] == mode)


lines = []
lines.append("| measure | itops | rig | LangGraph |")
lines.append("|---|---|---|---|")
for n in (1, 5, 20):
    i, r, p = (step(rust["steps"], "itops", n), step(rust["steps"], "rig", n), step(python["steps"], "langgraph", n))
    b = i["ns_per_step"]
    lines.append(
        f"| time per step, N = {n} | {fmt_time(b)} (1.0) | "
        f"{fmt_time(r['ns_per_step'])} ({ratio(r['ns_per_step'], b)}) | "
        f"{fmt_time(p['ns_per_step'])} ({ratio(p['ns_per_step'], b)}) |"
    )
for n in (1, 5, 20):
    i, r = step(rust["steps"], "itops", n), step(rust["steps"], "rig", n)
    lines.append(
        f"| allocations per step, N = {n} | {i['allocs_per_step']:.0f} (1.0) | "
        f"{r['allocs_per_step']:.0f} ({ratio(r['allocs_per_step'], i['allocs_per_step'])}) | — |"
    )
i, r = step(rust["steps"], "itops", 20), step(rust["steps"], "rig", 20)
lines.append(
    f"| bytes allocated per step, N = 20 | {fmt_bytes(i['bytes_allocated_per_step'])} (1.0) | "
    f"{fmt_bytes(r['bytes_allocated_per_step'])} ({ratio(r['bytes_allocated_per_step'], i['bytes_allocated_per_step'])}) | — |"
)
agents = rust["memory"][0]["agents"]
for mode, what in (("own", "each its own agent"), ("shared", "one shared agent")):
    i, r, p = mem(rust["memory"], "itops", mode), mem(rust["memory"], "rig", mode), mem(python["memory"], "langgraph", mode)
    b = i["live_bytes_per_agent"]
    lines.append(
        f"| live heap per agent, {agents:,} in flight, {what} | {fmt_bytes(b)} (1.0) | "
        f"{fmt_bytes(r['live_bytes_per_agent'])} ({ratio(r['live_bytes_per_agent'], b)}) | "
        f"{fmt_bytes(p['live_bytes_per_agent'])} ({ratio(p['live_bytes_per_agent'], b)}) |"
    )
    b = i["rss_bytes_per_agent"]
    lines.append(
        f"| RSS growth per agent, {agents:,} in flight, {what} | {fmt_bytes(b)} (1.0) | "
        f"{fmt_bytes(r['rss_bytes_per_agent'])} ({ratio(r['rss_bytes_per_agent'], b)}) | "
        f"{fmt_bytes(p['rss_bytes_per_agent'])} ({ratio(p['rss_bytes_per_agent'], b)}) |"
    )

v = python["versions"]
print(machine)
print(
    f"versions: itops-core {locked('itops-core')} (this tree), rig-core {locked('rig-core')} + "
    f"rig-agent {locked('rig-agent')}, tokio {locked('tokio')}; LangGraph {v['langgraph']} "
    f"(langgraph-prebuilt {v['langgraph-prebuilt']}, langchain-core {v['langchain-core']}), "
    f"CPython {python['python']}"
)
rounds = rust["steps"][0]["rounds"]
print(
    f"time: median of {rounds} rounds (Rust) / {python['steps'][0]['rounds']} rounds (Python) of ~0.1 s / ~0.3 s batches; "
    f"memory: N = 20, held at the model turn after 10 tool calls"
)
print()
print("\n".join(lines))
