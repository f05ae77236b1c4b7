"""A small stdio MCP server on the Python SDK 2.x (MCPServer) whose tools ask the client things
mid-call, for the tests of a 2026-07-28 server behind Switchboard.

The SDK picks the way to ask from the protocol the client negotiated: at 2026-07-28 (what
`server/discover` agrees with Switchboard) a call is answered `input_required` with the
question and a `requestState`, and the client's retry with `inputResponses` finishes it
(multi round-trip requests); at 2025-11-25 it would send ordinary server-to-client requests.

Tools:
  greet(): elicits a name (form: {"name": string}), answers "Hello, NAME!".
  haiku(topic): samples the client's model, answers "sampled: TEXT".
  both(topic): elicits a name, then samples (two rounds), answers "NAME/TEXT".
  add(a, b): asks nothing, answers the sum.
  count(steps): reports progress `steps` times, answers "counted STEPS".
  chatty(): logs "chatty says hi" at info (sent only if the request's `_meta` asks for info).
  touch(): announces an update of mrtr://motto (to `subscriptions/listen` streams).
  grow(name): adds a tool NAME (answers "grown") and tells `subscriptions/listen` streams.
Prompts:
  welcome(name): one user message.
Resources:
  mrtr://motto: a text resource.
"""

from typing import Annotated

import anyio
from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve, Sample
from mcp_types import CreateMessageResult, SamplingMessage, TextContent
from pydantic import BaseModel

server = MCPServer("mrtr-probe")


class Name(BaseModel):
    name: str


def ask_name() -> Elicit[Name]:
    return Elicit("What is your name?", Name)


def ask_model(topic: str) -> Sample:
    message = SamplingMessage(role="user", content=TextContent(type="text", text=f"A haiku about {topic}"))
    return Sample([message], max_tokens=64)


def text_of(result: CreateMessageResult) -> str:
    content = result.content
    return content.text if isinstance(content, TextContent) else str(content)


@server.tool()
async def greet(name: Annotated[Name, Resolve(ask_name)]) -> str:
    """Ask the user's name, then greet them."""
    return f"Hello, {name.name}!"


@server.tool()
async def haiku(topic: str, reply: Annotated[CreateMessageResult, Resolve(ask_model)]) -> str:
    """Ask the client's model for a haiku."""
    return f"sampled: {text_of(reply)}"


@server.tool()
async def both(
    topic: str,
    name: Annotated[Name, Resolve(ask_name)],
    reply: Annotated[CreateMessageResult, Resolve(ask_model)],
) -> str:
    """Ask the user's name and the client's model."""
    return f"{name.name}/{text_of(reply)}"


@server.tool()
async def add(a: int, b: int) -> str:
    """Add two numbers (asks nothing)."""
    return str(a + b)


@server.tool()
async def count(steps: int, ctx: Context) -> str:
    """Count to `steps`, reporting progress at each."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
        await anyio.sleep(0.05)
    return f"counted {steps}"


@server.tool()
async def chatty(ctx: Context) -> str:
    """Log one line at info."""
    await ctx.info("chatty says hi")
    return "said"


@server.tool()
async def touch(ctx: Context) -> str:
    """Announce that mrtr://motto changed."""
    await ctx.notify_resource_updated("mrtr://motto")
    return "touched"


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool called `name`, then announce the change."""

    def grown() -> str:
        return "grown"

    server.add_tool(grown, name=name, description="Added at run time.")
    await ctx.notify_tools_changed()
    return f"added {name}"


@server.prompt()
def welcome(name: str) -> str:
    """A welcome message."""
    return f"Welcome, {name}."


@server.resource("mrtr://motto")
def motto() -> str:
    """A motto."""
    return "ask, then act"


if __name__ == "__main__":
    server.run("stdio")
