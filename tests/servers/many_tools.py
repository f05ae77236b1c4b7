"""A stdio MCP server (Python SDK 1.x, low-level Server) with as many tools as asked, for the
tool search benchmark: copies of the real definitions in tests/search/tools.json (those of
server-everything, -filesystem, -memory, -sequential-thinking and the Python time and git
servers), the k-th copy named NAME_k and its description saying which copy it is.

Usage: many_tools.py COUNT
A call answers its own name.
"""

import json
import pathlib
import sys

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

HERE = pathlib.Path(__file__).resolve().parent
BASE = json.loads((HERE.parent / "search" / "tools.json").read_text())


def tools(count: int) -> list[types.Tool]:
    made = []
    for i in range(count):
        base = BASE[i % len(BASE)]
        copy = i // len(BASE)
        made.append(
            types.Tool(
                name=f"{base['name']}_{copy}",
                description=f"{base['description'] or ''} (copy {copy})",
                inputSchema=base["inputSchema"],
            )
        )
    return made


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    listed = tools(count)
    server = Server("many-tools")

    @server.list_tools()
    async def list_tools() -> list[types.Tool]:
        return listed

    @server.call_tool()
    async def call_tool(name: str, arguments: dict) -> list[types.TextContent]:
        return [types.TextContent(type="text", text=name)]

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


if __name__ == "__main__":
    main()
