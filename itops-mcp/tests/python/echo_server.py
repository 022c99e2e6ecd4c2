"""A small third-party MCP server, written with the official Python SDK (MCPServer), for the
itops client bridge tests.

    echo_server.py                      stdio
    echo_server.py --http PORT          streamable HTTP at http://127.0.0.1:PORT/mcp
"""

import asyncio
import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("python-echo")


@server.tool()
def echo(text: str) -> str:
    """Returns the text it is given."""
    return text


@server.tool()
def add(a: int, b: int) -> dict:
    """Adds two integers."""
    return {"sum": a + b}


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the given reason."""
    raise ToolError(reason)


@server.tool()
async def sleep(seconds: float) -> str:
    """Sleeps, then answers."""
    await asyncio.sleep(seconds)
    return "awake"


@server.tool()
def crash() -> str:
    """Ends the server process at once, as a crashing server would."""
    os._exit(3)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
