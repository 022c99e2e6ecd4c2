"""Drive an MCP server with the official Python SDK client and report what it saw, as JSON.

    sdk_client.py --url URL [--bearer TOKEN] --cases CASES.json
    sdk_client.py --cases CASES.json -- COMMAND [ARGS...]      (stdio)

CASES.json is a list of {"tool": NAME, "arguments": {...}, "save": NAME?}. A case with "save"
keeps its structured result under that name, and a later argument string "${name.a.b}" is
replaced by that result's field a.b (to pass a created incident's id along). The report (on stdout) holds the
negotiated protocol version, the server info, every listed tool (all pages), and for each
case either the tool result or the protocol error the SDK raised. The Rust tests decide what
is right; this script only drives the real client.
"""

import argparse
import asyncio
import json
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def substitute(value, saved):
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        name, *path = value[2:-1].split(".")
        found = saved[name]
        for key in path:
            found = found[key]
        return found
    return value


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def run(target, cases):
    logs = []

    async def on_log(params):
        logs.append(dump(params))

    async with Client(target, logging_callback=on_log) as client:
        report = {
            "protocol_version": client.protocol_version,
            "server": dump(client.server_info) if client.server_info else None,
            "tools": [],
            "pages": 0,
            "results": [],
        }
        cursor = None
        while True:
            page = await client.list_tools(cursor=cursor)
            report["pages"] += 1
            report["tools"].extend(dump(tool) for tool in page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        await client.set_logging_level("debug")
        saved = {}
        for case in cases:
            progress = []

            async def on_progress(done, total, message, progress=progress):
                progress.append({"progress": done, "total": total, "message": message})

            outcome = {"tool": case["tool"]}
            try:
                arguments = substitute(case.get("arguments"), saved)
                result = await client.call_tool(
                    case["tool"], arguments, progress_callback=on_progress
                )
                outcome["result"] = dump(result)
                if case.get("save"):
                    saved[case["save"]] = outcome["result"].get("structuredContent")
            except MCPError as error:
                outcome["error"] = {"code": error.error.code, "message": error.error.message}
            outcome["progress"] = progress
            report["results"].append(outcome)
        # Still serving after the bad calls?
        await client.send_ping()
        report["ping_after"] = True
        report["logs"] = logs
        return report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--bearer")
    parser.add_argument("--cases", required=True)
    parser.add_argument("command", nargs="*")
    args = parser.parse_args()
    with open(args.cases) as f:
        cases = json.load(f)
    if args.url:
        headers = {"Authorization": f"Bearer {args.bearer}"} if args.bearer else {}
        target = streamable_http_client(args.url, http_client=httpx2.AsyncClient(headers=headers))
    else:
        target = StdioServerParameters(command=args.command[0], args=args.command[1:])
    report = asyncio.run(run(target, cases))
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
