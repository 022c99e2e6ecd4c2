"""The itops engine comparison task on LangGraph: its prebuilt ReAct agent
(`create_react_agent`) over a scripted chat model, two tools, asyncio.

Same behaviour as the Rust side (bench/compare/src/script.rs): the model counts the
tool results in the conversation it is sent (k), checks the last one, asks for call k
while k < N (the tools alternate: `noop`, then the JSON tool `lookup`), then answers.

Prints one JSON object: time per model turn for N = 1, 5, 20, and memory per agent with
1,000 agents held mid-task at once (each memory figure in a fresh child process).

    .venv/bin/python python/bench.py [--rounds R] [--agents A]
"""

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
import warnings
from importlib.metadata import version
from typing import Any, Optional

warnings.filterwarnings("ignore")  # create_react_agent's deprecation notice

from langchain_core.language_models.chat_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, ToolMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langgraph.prebuilt import create_react_agent  # noqa: E402

STEPS = (1, 5, 20)
MEMORY_N = 20
TASK = "Checkout p99 latency rose to 2.4 s. Investigate."
BATCH_S = 0.3

EXECUTED = 0


def call_for(k: int):
    if k % 2 == 0:
        return "noop", {"i": k}
    return "lookup", {"service": "checkout", "i": k}


def expected_in_result(k: int) -> str:
    return "ok" if k % 2 == 0 else "healthy"


def answer(n: int) -> str:
    return f"done after {n} tool calls"


@tool
async def noop(i: int) -> str:
    """Does nothing."""
    global EXECUTED
    EXECUTED += 1
    return "ok"


@tool
async def lookup(service: str, i: int) -> dict:
    """Health of a service: status, p99 latency and error rate."""
    global EXECUTED
    EXECUTED += 1
    return {"service": service, "status": "healthy", "p99_ms": 212, "error_rate": 0.002, "i": i}


class Gate:
    """Holds every agent at one model turn until released."""

    def __init__(self, at: int):
        self.at = at
        self.arrived = 0
        self.open = asyncio.Event()

    async def pass_(self, k: int):
        if k != self.at:
            return
        self.arrived += 1
        await self.open.wait()


class ScriptedChatModel(BaseChatModel):
    """Stateless scripted model: the next turn follows from the conversation."""

    n: int
    gate: Optional[Any] = None

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools, **kwargs):
        return self

    def _turn(self, messages) -> AIMessage:
        results = [m for m in messages if isinstance(m, ToolMessage)]
        k = len(results)
        if results:
            last = results[-1]
            if last.status == "error" or expected_in_result(k - 1) not in str(last.content):
                raise RuntimeError(f"tool result {k - 1} unexpected: {last.content!r}")
        if k < self.n:
            name, args = call_for(k)
            return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{k}", "type": "tool_call"}])
        return AIMessage(content=answer(self.n))

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._turn(messages))])

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        k = sum(1 for m in messages if isinstance(m, ToolMessage))
        if self.gate is not None:
            await self.gate.pass_(k)
        return ChatResult(generations=[ChatGeneration(message=self._turn(messages))])


class Agent:
    def __init__(self, n: int, gate: Optional[Gate] = None):
        self.n = n
        self.graph = create_react_agent(ScriptedChatModel(n=n, gate=gate), [noop, lookup])
        # LangGraph's bound counts super-steps (model and tools nodes): 2N + 1 are needed.
        self.config = {"recursion_limit": 2 * n + 2}

    async def run(self, concurrent: bool = False):
        """Runs the task once and checks that it really ran; the executed-call count is
        checked per run unless runs overlap (`concurrent`; the caller checks the total)."""
        before = EXECUTED
        state = await self.graph.ainvoke({"messages": [("user", TASK)]}, self.config)
        messages = state["messages"]
        final = messages[-1]
        assert isinstance(final, AIMessage) and final.content == answer(self.n), f"final answer: {final!r}"
        tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
        assert len(tool_messages) == self.n, "tool results in the conversation"
        assert sum(1 for m in messages if isinstance(m, AIMessage)) == self.n + 1, "model turns"
        if not concurrent:
            assert EXECUTED - before == self.n, "tools executed"


async def time_steps(rounds: int):
    rows = []
    for n in STEPS:
        agent = Agent(n)
        started = time.perf_counter()
        runs = 0
        while time.perf_counter() - started < BATCH_S or runs < 10:
            await agent.run()
            runs += 1
        per_step = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(runs):
                await agent.run()
            per_step.append((time.perf_counter() - t0) * 1e9 / (runs * (n + 1)))
        per_step.sort()
        median = per_step[len(per_step) // 2]
        print(
            f"langgraph N={n:>2}: {median / 1000:8.2f} µs/step (range {per_step[0] / 1000:.2f}–{per_step[-1] / 1000:.2f})",
            file=sys.stderr,
        )
        rows.append({
            "engine": "langgraph", "n": n, "steps_per_run": n + 1, "ns_per_step": median,
            "ns_per_step_min": per_step[0], "ns_per_step_max": per_step[-1],
            "runs_per_round": runs, "rounds": rounds,
        })
    return rows


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def memory_child(n: int, agents: int, mode: str, traced: bool):
    await Agent(n).run()  # warm imports, caches and the event loop
    gate = Gate((n + 1) // 2)
    shared = Agent(n, gate) if mode == "shared" else None
    gc.collect()
    if traced:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0] if traced else 0
    rss0 = rss_bytes()
    before = EXECUTED

    async def one():
        agent = shared if shared is not None else Agent(n, gate)
        await agent.run(concurrent=True)

    started = time.perf_counter()
    tasks = [asyncio.create_task(one()) for _ in range(agents)]
    while gate.arrived < agents:
        if time.perf_counter() - started > 300:
            raise RuntimeError("agents did not reach the gate")
        await asyncio.sleep(0.001)
    reached = time.perf_counter() - started
    gc.collect()
    live = (tracemalloc.get_traced_memory()[0] - base) if traced else None
    rss = rss_bytes() - rss0
    gate.open.set()
    await asyncio.gather(*tasks)
    assert EXECUTED - before == agents * n, "tools executed"
    return {
        "engine": "langgraph", "n": n, "agents": agents, "mode": mode, "held_at_turn": (n + 1) // 2,
        "live_bytes_per_agent": live / agents if traced else None,
        "rss_bytes_per_agent": rss / agents, "ms_to_reach_gate": reached * 1000,
    }


def memory(agents: int):
    out = []
    for mode in ("own", "shared"):
        row = None
        # RSS without tracemalloc (its own bookkeeping would count), then traced live bytes.
        for traced in (False, True):
            cmd = [sys.executable, __file__, "--memory-child", str(MEMORY_N), mode, "--agents", str(agents)]
            if traced:
                cmd.append("--traced")
            result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            if row is None:
                row = result
            else:
                row["live_bytes_per_agent"] = result["live_bytes_per_agent"]
        print(
            f"langgraph {agents} agents mid-task (N={MEMORY_N}, {mode} agent): "
            f"{row['live_bytes_per_agent']:8.0f} B live heap/agent, {row['rss_bytes_per_agent']:8.0f} B RSS/agent",
            file=sys.stderr,
        )
        out.append(row)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--memory-child", nargs=2, metavar=("N", "MODE"))
    p.add_argument("--traced", action="store_true")
    a = p.parse_args()
    if a.memory_child:
        n, mode = int(a.memory_child[0]), a.memory_child[1]
        print(json.dumps(asyncio.run(memory_child(n, a.agents, mode, a.traced))))
        return
    steps = asyncio.run(time_steps(a.rounds))
    mem = memory(a.agents)
    print(json.dumps({
        "python": sys.version.split()[0],
        "versions": {k: version(k) for k in ("langgraph", "langgraph-prebuilt", "langchain-core")},
        "steps": steps, "memory": mem,
    }, indent=2))


if __name__ == "__main__":
    main()
