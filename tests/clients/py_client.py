#!/usr/bin/env python3
"""MCP test client built on the official Python SDK (works with mcp 1.x and mcp 2.x).

Usage:
    python py_client.py --url URL --transport streamable|sse --scenario NAME [--extra JSON]
                        [--timeout SECS] [--mode auto|legacy]

Scenarios: list_tools, call, progress, sampling, elicitation, concurrent, resources_prompts.

Prints exactly one JSON object on the LAST line of stdout. Exit codes:
    0  scenario ran (for `call`, a JSON-RPC error is reported as ok:false, exit 0)
    1  scenario failed (exception, protocol error, ...)
    2  bad command line
    3  overall timeout hit

The SDK major version is detected at import time:
  * mcp 1.x: ClientSession(read, write, ...) + session.initialize(); streamable_http_client
    yields (read, write, get_session_id); read timeouts are timedeltas; errors are McpError.
  * mcp 2.x: mcp.Client(transport, mode=...) which by default (mode="auto") first sends
    `server/discover` and falls back to `initialize` on a JSON-RPC error / HTTP 4xx;
    `--mode legacy` skips the probe. Errors are MCPError; read timeouts are floats.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import signal
import sys
import threading
import time
import traceback
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio

MCP_VERSION = importlib.metadata.version("mcp")
MCP_MAJOR = int(MCP_VERSION.split(".")[0])

from mcp import types  # noqa: E402  (both majors expose mcp.types)

if MCP_MAJOR >= 2:
    from mcp import Client  # noqa: E402
    from mcp.client.sse import sse_client  # noqa: E402
    from mcp.client.streamable_http import streamable_http_client  # noqa: E402
    from mcp.shared.exceptions import MCPError as RpcError  # noqa: E402
else:
    from mcp import ClientSession  # noqa: E402
    from mcp.client.sse import sse_client  # noqa: E402

    try:  # 1.2x+ name
        from mcp.client.streamable_http import streamable_http_client  # noqa: E402
    except ImportError:  # older 1.x
        from mcp.client.streamable_http import streamablehttp_client as streamable_http_client  # noqa: E402
    from mcp.shared.exceptions import McpError as RpcError  # noqa: E402

DEFAULT_SAMPLING_REPLY = "sampled-by-test-client"
_emitted = False
_emit_lock = threading.Lock()


def emit(obj: dict[str, Any], code: int) -> None:
    """Print the one result line and exit (only once, even if a watchdog races us)."""
    global _emitted
    with _emit_lock:
        if _emitted:
            return
        _emitted = True
        sys.stdout.write(json.dumps(obj, default=str) + "\n")
        sys.stdout.flush()
    os._exit(code)


def dump(model: Any) -> Any:
    if model is None:
        return None
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return model


def find_rpc_error(exc: BaseException) -> Any | None:
    """Find a JSON-RPC error (McpError/MCPError) inside exception groups / causes."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, RpcError):
            return e
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        if e.__cause__ is not None:
            stack.append(e.__cause__)
        if e.__context__ is not None:
            stack.append(e.__context__)
    return None


def leaf_exceptions(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for e in exc.exceptions:
            out.extend(leaf_exceptions(e))
        return out
    return [exc]


def rpc_error_json(e: Any) -> dict[str, Any]:
    err = getattr(e, "error", None)
    out = {"code": getattr(err, "code", None), "message": getattr(err, "message", str(e))}
    data = getattr(err, "data", None)
    if data is not None:
        out["data"] = data
    return out


def result_text(result: Any) -> str:
    """Concatenated text of a CallToolResult's text content blocks."""
    parts = []
    for block in getattr(result, "content", None) or []:
        t = getattr(block, "text", None)
        if isinstance(t, str):
            parts.append(t)
    return "\n".join(parts)


def substitute(value: Any, i: int) -> Any:
    if isinstance(value, str):
        return value.replace("{i}", str(i))
    if isinstance(value, dict):
        return {k: substitute(v, i) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, i) for v in value]
    return value


class RecordingWrite:
    """Wraps a transport write stream and records the JSON-RPC methods the client sends."""

    def __init__(self, inner: Any, log: list[str]):
        self._inner = inner
        self._log = log

    async def send(self, item: Any) -> None:
        msg = getattr(item, "message", item)
        msg = getattr(msg, "root", msg)
        method = getattr(msg, "method", None)
        if method is not None:
            self._log.append(method)
        elif getattr(msg, "error", None) is not None:
            self._log.append("<error-response>")
        else:
            self._log.append("<response>")
        await self._inner.send(item)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> "RecordingWrite":
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@asynccontextmanager
async def open_transport(url: str, transport: str, wire: list[str]):
    """Yield (read, write) for the chosen transport, with the write side recorded."""
    if transport == "streamable":
        cm = streamable_http_client(url)
    elif transport == "sse":
        cm = sse_client(url)
    else:
        raise ValueError(f"unknown transport {transport!r}")
    async with cm as streams:
        yield streams[0], RecordingWrite(streams[1], wire)


class Conn:
    """Uniform facade over mcp 1.x ClientSession and mcp 2.x Client."""

    protocol_version: str | None = None
    server_info: Any = None
    handshake: str = "initialize"

    def __init__(self, api: Any, timeout: float):
        self.api = api
        self.timeout = timeout

    def _t(self, secs: float | None = None) -> Any:
        secs = self.timeout if secs is None else secs
        return timedelta(seconds=secs) if MCP_MAJOR < 2 else secs

    async def list_tools(self) -> Any:
        return await self.api.list_tools()

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, progress_callback: Any = None) -> Any:
        return await self.api.call_tool(
            name, arguments, read_timeout_seconds=self._t(), progress_callback=progress_callback
        )

    async def list_resources(self) -> Any:
        return await self.api.list_resources()

    async def read_resource(self, uri: str) -> Any:
        return await self.api.read_resource(uri)

    async def list_resource_templates(self) -> Any:
        return await self.api.list_resource_templates()

    async def list_prompts(self) -> Any:
        return await self.api.list_prompts()

    async def get_prompt(self, name: str, arguments: dict[str, str] | None) -> Any:
        return await self.api.get_prompt(name, arguments)


@asynccontextmanager
async def connect(args: argparse.Namespace, sampling_callback: Any, elicitation_callback: Any, wire: list[str]):
    async with open_transport(args.url, args.transport, wire) as (read, write):
        if MCP_MAJOR >= 2:

            @asynccontextmanager
            async def prebuilt():
                yield read, write

            client = Client(
                prebuilt(),
                mode=args.mode,
                sampling_callback=sampling_callback,
                elicitation_callback=elicitation_callback,
                read_timeout_seconds=args.request_timeout,
                client_info=types.Implementation(name="switchboard-py-test-client", version=MCP_VERSION),
            )
            async with client:
                conn = Conn(client, args.request_timeout)
                sess = client.session
                conn.protocol_version = client.protocol_version
                conn.server_info = client.server_info
                if sess.discover_result is not None:
                    conn.handshake = "server/discover"
                elif args.mode == "auto":
                    conn.handshake = "initialize (after server/discover fallback)"
                else:
                    conn.handshake = "initialize"
                yield conn
        else:
            session = ClientSession(
                read,
                write,
                read_timeout_seconds=timedelta(seconds=args.request_timeout),
                sampling_callback=sampling_callback,
                elicitation_callback=elicitation_callback,
                client_info=types.Implementation(name="switchboard-py-test-client", version=MCP_VERSION),
            )
            async with session:
                init = await session.initialize()
                conn = Conn(session, args.request_timeout)
                conn.protocol_version = init.protocolVersion
                conn.server_info = init.serverInfo
                conn.handshake = "initialize"
                yield conn


# ---------------------------------------------------------------- scenarios


async def sc_list_tools(conn: Conn, extra: dict[str, Any], out: dict[str, Any], st: dict[str, Any]) -> None:
    res = await conn.list_tools()
    out["tools"] = [t.name for t in res.tools]


async def sc_call(conn: Conn, extra: dict[str, Any], out: dict[str, Any], st: dict[str, Any]) -> None:
    tool = extra.get("tool", "echo")
    arguments = extra.get("arguments", {"message": "hello"})
    try:
        res = await conn.call_tool(tool, arguments)
    except Exception as e:  # JSON-RPC error -> ok:false, exit 0
        rpc = find_rpc_error(e)
        if rpc is None:
            raise
        out["ok"] = False
        out["error"] = rpc_error_json(rpc)
        return
    out["result"] = dump(res)
    out["text"] = result_text(res)


async def sc_progress(conn: Conn, extra: dict[str, Any], out: dict[str, Any], st: dict[str, Any]) -> None:
    tool = extra.get("tool", "trigger-long-running-operation")
    arguments = extra.get("arguments", {"duration": 2, "steps": 4})
    t0 = time.monotonic()
    notes: list[dict[str, Any]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append(
            {
                "progress": progress,
                "total": total,
                "message": message,
                "elapsed_ms": round((time.monotonic() - t0) * 1000),
            }
        )

    res = await conn.call_tool(tool, arguments, progress_callback=on_progress)
    out["progress"] = notes
    out["result"] = dump(res)
    out["text"] = result_text(res)
    out["call_ms"] = round((time.monotonic() - t0) * 1000)


async def sc_sampling(conn: Conn, extra: dict[str, Any], out: dict[str, Any], st: dict[str, Any]) -> None:
    tool = extra.get("tool", "trigger-sampling-request")
    arguments = extra.get("arguments", {"prompt": "say hi", "maxTokens": 20})
    res = await conn.call_tool(tool, arguments)
    out["sampling_called"] = len(st["sampling_requests"]) > 0
    out["sampling_requests"] = st["sampling_requests"]
    out["result"] = dump(res)
    out["text"] = result_text(res)
    out["result_contains_reply"] = st["reply"] in json.dumps(dump(res))
    if not out["sampling_called"] or not out["result_contains_reply"]:
        out["ok"] = False


async def sc_elicitation(conn: Conn, extra: dict[str, Any], out: dict[str, Any], st: dict[str, Any]) -> None:
    tool = extra.get("tool", "trigger-elicitation-request")
    res = await conn.call_tool(tool, extra.get("arguments", {}))
    out["elicitation_called"] = len(st["elicitation_requests"]) > 0
    out["elicitation_requests"] = st["elicitation_requests"]
    out["result"] = dump(res)
    out["text"] = result_text(res)
    out["result_contains_answer"] = st["answer"] in json.dumps(dump(res))
    if not out["elicitation_called"] or not out["result_contains_answer"]:
        out["ok"] = False


async def sc_concurrent(conn: Conn, extra: dict[str, Any], out: dict[str, Any], st: dict[str, Any]) -> None:
    n = int(extra.get("n", 32))
    tool = extra.get("tool", "echo")
    arguments = extra.get("arguments", {"message": "call-{i}"})
    results: list[dict[str, Any] | None] = [None] * n

    async def one(i: int) -> None:
        args_i = substitute(arguments, i)
        t = time.monotonic()
        try:
            r = await conn.call_tool(tool, args_i)
            text = result_text(r)
            # When arguments use the {i} placeholder, check each caller got its own answer.
            expected = [v for v in (args_i.values() if isinstance(args_i, dict) else []) if isinstance(v, str)]
            matched = all(e in text for e in expected) if "{i}" in json.dumps(arguments) else True
            results[i] = {
                "ok": not getattr(r, "isError", getattr(r, "is_error", False)),
                "matched": matched,
                "ms": round((time.monotonic() - t) * 1000),
            }
        except Exception as e:  # noqa: BLE001
            rpc = find_rpc_error(e)
            results[i] = {
                "ok": False,
                "matched": False,
                "error": rpc_error_json(rpc) if rpc else repr(leaf_exceptions(e)[0]),
                "ms": round((time.monotonic() - t) * 1000),
            }

    t0 = time.monotonic()
    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    wall = time.monotonic() - t0
    oks = [r for r in results if r and r["ok"]]
    out["n"] = n
    out["successes"] = len(oks)
    out["failures"] = n - len(oks)
    out["mismatched"] = sum(1 for r in results if r and r["ok"] and not r["matched"])
    out["wall_ms"] = round(wall * 1000)
    lat = sorted(r["ms"] for r in results if r)
    out["max_call_ms"] = lat[-1] if lat else None
    out["errors"] = [r["error"] for r in results if r and "error" in r][:5]
    if out["failures"] or out["mismatched"]:
        out["ok"] = False


async def sc_resources_prompts(conn: Conn, extra: dict[str, Any], out: dict[str, Any], st: dict[str, Any]) -> None:
    res = await conn.list_resources()
    out["resources"] = [str(r.uri) for r in res.resources]
    out["resource_names"] = [r.name for r in res.resources]
    uri = extra.get("resource_uri") or (out["resources"][0] if out["resources"] else None)
    if uri:
        rr = await conn.read_resource(uri)
        contents = []
        for c in rr.contents:
            d = dump(c)
            contents.append(
                {
                    "uri": d.get("uri"),
                    "mimeType": d.get("mimeType"),
                    "text_len": len(d["text"]) if "text" in d else None,
                    "blob_len": len(d["blob"]) if "blob" in d else None,
                }
            )
        out["read"] = {"uri": uri, "contents": contents}
    tpl = await conn.list_resource_templates()
    out["resource_templates"] = [t["uriTemplate"] for t in dump(tpl).get("resourceTemplates", [])]
    pr = await conn.list_prompts()
    out["prompts"] = [p.name for p in pr.prompts]
    pname = extra.get("prompt") or (out["prompts"][0] if out["prompts"] else None)
    if pname:
        prompt = next((p for p in pr.prompts if p.name == pname), None)
        pargs: dict[str, str] = dict(extra.get("prompt_args", {}))
        for a in (getattr(prompt, "arguments", None) or []):
            if a.required and a.name not in pargs:
                pargs[a.name] = "test"
        gp = await conn.get_prompt(pname, pargs or None)
        out["prompt"] = {
            "name": pname,
            "arguments": pargs,
            "messages": len(gp.messages),
            "roles": [m.role for m in gp.messages],
            "first_text": next((getattr(m.content, "text", None) for m in gp.messages if getattr(m.content, "text", None)), None),
        }


SCENARIOS = {
    "list_tools": sc_list_tools,
    "call": sc_call,
    "progress": sc_progress,
    "sampling": sc_sampling,
    "elicitation": sc_elicitation,
    "concurrent": sc_concurrent,
    "resources_prompts": sc_resources_prompts,
}


async def run(args: argparse.Namespace, extra: dict[str, Any]) -> dict[str, Any]:
    wire: list[str] = []
    st: dict[str, Any] = {
        "sampling_requests": [],
        "reply": extra.get("reply", DEFAULT_SAMPLING_REPLY),
        "elicitation_requests": [],
        "answer": extra.get("answer", "switchboard-elicited-name"),
    }

    async def elicitation_callback(context: Any, params: Any) -> Any:
        st["elicitation_requests"].append(dump(params))
        return types.ElicitResult.model_validate({"action": "accept", "content": {"name": st["answer"]}})

    async def sampling_callback(context: Any, params: Any) -> Any:
        st["sampling_requests"].append(dump(params))
        return types.CreateMessageResult.model_validate(
            {
                "role": "assistant",
                "content": {"type": "text", "text": st["reply"]},
                "model": "switchboard-test-model",
                "stopReason": "endTurn",
            }
        )

    out: dict[str, Any] = {
        "ok": True,
        "client": "py",
        "sdk": f"mcp {MCP_VERSION}",
        "transport": args.transport,
        "scenario": args.scenario,
    }
    t0 = time.monotonic()
    with anyio.fail_after(args.timeout):
        async with connect(args, sampling_callback, elicitation_callback, wire) as conn:
            out["protocolVersion"] = conn.protocol_version
            out["serverInfo"] = dump(conn.server_info)
            out["handshake"] = conn.handshake
            await SCENARIOS[args.scenario](conn, extra, out, st)
    out["wire_methods"] = sorted(set(wire))
    out["first_methods"] = wire[:3]
    out["elapsed_ms"] = round((time.monotonic() - t0) * 1000)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--transport", required=True, choices=["streamable", "sse"])
    p.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    p.add_argument("--extra", default="{}", help="JSON object with scenario parameters")
    p.add_argument("--timeout", type=float, default=60.0, help="overall timeout in seconds (default 60)")
    p.add_argument("--request-timeout", type=float, default=None, help="per-request timeout (default: --timeout)")
    p.add_argument(
        "--mode",
        default="auto",
        choices=["auto", "legacy"],
        help="mcp 2.x only: auto = server/discover then fall back to initialize; legacy = initialize only",
    )
    args = p.parse_args()
    if args.request_timeout is None:
        args.request_timeout = args.timeout
    try:
        extra = json.loads(args.extra)
        if not isinstance(extra, dict):
            raise ValueError("--extra must be a JSON object")
    except ValueError as e:
        print(f"py_client: bad --extra: {e}", file=sys.stderr)
        emit({"ok": False, "error": {"message": f"bad --extra: {e}"}}, 2)
        return

    # Hard watchdog: even if cleanup hangs after the anyio deadline, never outlive timeout + 10 s.
    def watchdog() -> None:
        print(f"py_client: hard timeout after {args.timeout + 10}s", file=sys.stderr)
        emit({"ok": False, "client": "py", "error": {"message": f"hard timeout after {args.timeout + 10}s"}}, 3)

    timer = threading.Timer(args.timeout + 10, watchdog)
    timer.daemon = True
    timer.start()
    signal.signal(signal.SIGTERM, lambda *_: emit({"ok": False, "client": "py", "error": {"message": "SIGTERM"}}, 143))

    try:
        out = anyio.run(run, args, extra)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        leaves = leaf_exceptions(e)
        timeout = any(isinstance(x, TimeoutError) for x in leaves)
        rpc = find_rpc_error(e)
        msg = "; ".join(f"{type(x).__name__}: {x}" for x in leaves)
        if timeout:
            msg = f"overall timeout after {args.timeout}s ({msg})"
        print(f"py_client: scenario {args.scenario} failed: {msg}", file=sys.stderr)
        traceback.print_exception(e, file=sys.stderr)
        err: dict[str, Any] = rpc_error_json(rpc) if rpc else {"message": msg}
        err["type"] = "timeout" if timeout else type(leaves[0]).__name__
        emit(
            {
                "ok": False,
                "client": "py",
                "sdk": f"mcp {MCP_VERSION}",
                "transport": args.transport,
                "scenario": args.scenario,
                "error": err,
            },
            3 if timeout else 1,
        )
        return
    if not out.get("ok") and args.scenario != "call":
        print(f"py_client: scenario {args.scenario} reported failure", file=sys.stderr)
        emit(out, 1)
    emit(out, 0)


if __name__ == "__main__":
    main()
