"""A real stdio MCP client (Python SDK 1.x) that runs `switchboard connect` as its server and
calls a tool twice, waiting for a line on its own stdin in between (the test restarts the
gateway there). Prints one JSON line per call: {"call": n, "text": ...} or {"call": n, "error": ...}.

Usage: python stdio_bridge_client.py SWITCHBOARD_BIN connect NAME --url URL
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main() -> None:
    params = StdioServerParameters(command=sys.argv[1], args=sys.argv[2:])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            for n in (1, 2):
                if n == 2:
                    print(json.dumps({"waiting": True}), flush=True)
                    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                try:
                    result = await session.call_tool("echo", {"message": f"call {n}"})
                    text = " ".join(getattr(c, "text", "") for c in result.content)
                    print(json.dumps({"call": n, "text": text}), flush=True)
                except Exception as e:  # the test reads the error
                    print(json.dumps({"call": n, "error": str(e)}), flush=True)


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(), timeout=120))
