"""A small stdio MCP server (Python SDK, FastMCP) for fault tests: it reports on stderr when a
call is cancelled, which only a `notifications/cancelled` from the client can cause.

Tools:
  wait(seconds): sleeps, then answers "waited"; prints "started wait SECONDS (request ID)" to
  stderr when it begins (the JSON-RPC id it was sent under, which tells Switchboard's fast path,
  whose ids are strings "sbl~N", from rmcp's numbers) and "cancelled wait" if cancelled.
  steps(count): reports progress 1..count of count (when asked for progress), then answers
  "COUNT steps"; prints "started steps COUNT (request ID)" to stderr.
  ask(question): asks the client for a `name` (elicitation) during the call, then answers
  "ACTION NAME"; prints "started ask (request ID)" to stderr.
  roots_later(seconds): answers "later" at once; `seconds` after, outside any call, asks the
  client for its roots and prints "roots later: URI URI…" to stderr.
"""

import asyncio
import sys

import anyio
from mcp.server.fastmcp import Context, FastMCP
from pydantic import BaseModel

server = FastMCP("cancel-probe")


@server.tool()
async def wait(seconds: float, ctx: Context) -> str:
    """Sleep for `seconds`, then answer."""
    print(f"started wait {seconds} (request {ctx.request_id})", file=sys.stderr, flush=True)
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        print("cancelled wait", file=sys.stderr, flush=True)
        raise
    return "waited"


@server.tool()
async def steps(count: int, ctx: Context) -> str:
    """Report progress `count` times, then answer."""
    print(f"started steps {count} (request {ctx.request_id})", file=sys.stderr, flush=True)
    for step in range(1, count + 1):
        await ctx.report_progress(step, count)
    return f"{count} steps"


class Name(BaseModel):
    name: str


@server.tool()
async def ask(question: str, ctx: Context) -> str:
    """Ask the client for a name during the call, then answer with what it said."""
    print(f"started ask (request {ctx.request_id})", file=sys.stderr, flush=True)
    answer = await ctx.elicit(message=question, schema=Name)
    name = answer.data.name if answer.action == "accept" else "-"
    return f"{answer.action} {name}"


# Tasks started by calls that outlive them (kept, so they are not collected while they run).
later = set()


@server.tool()
async def roots_later(seconds: float, ctx: Context) -> str:
    """Answer at once; a little later, outside any call, ask the client for its roots."""
    session = ctx.session

    async def ask_roots():
        await anyio.sleep(seconds)
        result = await session.list_roots()
        uris = " ".join(str(root.uri) for root in result.roots)
        print(f"roots later: {uris}", file=sys.stderr, flush=True)

    task = asyncio.get_running_loop().create_task(ask_roots())
    later.add(task)
    task.add_done_callback(later.discard)
    return "later"


if __name__ == "__main__":
    server.run("stdio")
