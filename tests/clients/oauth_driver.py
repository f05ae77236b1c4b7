"""A client for the conformance kit's auth scenarios (`run client --command ...`): the kit
gives the URL of its protected MCP server as the last argument. This driver makes Switchboard
the client: it writes a servers.json with one `url` entry for that server, starts
`switchboard serve` ($SWITCHBOARD_BIN), lets it sign in (`switchboard auth s`, with $BROWSER a
command that follows the authorization server's redirects back to the gateway), then lists
and calls a tool through the gateway with the Python SDK, as an AI client would.

With OAUTH_DRIVER_KEYCHAIN=1 (run inside tests/clients/in_keyring.sh) the tokens must land in
the OS keychain and nowhere else: no secrets file, the access token in no file, log or API
answer, and gone from the keychain after `switchboard auth s --logout`.

Exit status 0 when the tool call went through; every wait is bounded."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

HERE = os.path.dirname(os.path.abspath(__file__))


def log(*args):
    print("[oauth-driver]", *args, file=sys.stderr, flush=True)


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def wait_state(base, wanted, limit):
    deadline = time.time() + limit
    while True:
        server = get(f"{base}/api/servers/s")
        if server["state"] in wanted:
            return server
        if time.time() > deadline:
            raise SystemExit(f"server state {server['state']} ({server.get('lastError')}), wanted {wanted}")
        time.sleep(0.1)


async def use_tools(endpoint):
    """Lists the tools and calls the first; answers whether the call went through."""
    async with streamablehttp_client(endpoint) as (read, write, _):
        async with ClientSession(read, write) as session:
            await asyncio.wait_for(session.initialize(), 30)
            tools = (await asyncio.wait_for(session.list_tools(), 30)).tools
            log("tools:", [t.name for t in tools])
            if not tools:
                return True
            try:
                result = await asyncio.wait_for(session.call_tool(tools[0].name, {}), 30)
            except (McpError, asyncio.TimeoutError) as e:
                log("call refused:", repr(e))
                return False
            log("called", tools[0].name, "isError:", result.isError, result.content)
            return not result.isError


def sign_in(binary, base, env):
    browser = f"{sys.executable} {os.path.join(HERE, 'follow_redirects.py')}"
    # Not checked: Switchboard refuses a sign-in to a server that keeps asking for more.
    subprocess.run([binary, "auth", "s", "--url", base], env=dict(env, BROWSER=browser),
                   timeout=120)


def keychain_entries():
    found = subprocess.run(["secret-tool", "search", "--all", "service", "switchboard"],
                           capture_output=True, text=True, timeout=30)
    return found.stdout + found.stderr


def check_keychain(binary, base, env, work):
    listing = keychain_entries()
    if "oauth:s:" not in listing:
        raise SystemExit(f"the tokens are not in the keychain:\n{listing}")
    stored = json.loads(subprocess.run(
        ["secret-tool", "lookup", "service", "switchboard", "username", next(
            line.split("=", 1)[1].strip() for line in listing.splitlines()
            if line.startswith("attribute.username") and "oauth:s:" in line)],
        capture_output=True, text=True, timeout=30).stdout)
    token = stored["token_response"]["access_token"]
    where = get(base + "/api/config").get("secrets", {})
    if where.get("store") != "keychain":
        raise SystemExit(f"/api/config does not say the keychain holds the secrets: {where}")
    if os.path.exists(os.path.join(work, "secrets.json")):
        raise SystemExit("a secrets file was written although there is a keychain")
    seen = [open(os.path.join(work, "stderr")).read(), open(os.path.join(work, "servers.json")).read()]
    for path in ["/api/servers", "/api/servers/s", "/api/servers/s/logs", "/api/config"]:
        seen.append(json.dumps(get(base + path)))
    for root, _, files in os.walk(os.path.join(work, "data")):
        seen.extend(open(os.path.join(root, f), errors="replace").read() for f in files)
    if any(token in text for text in seen):
        raise SystemExit("the access token leaked into a file, log or API answer")
    subprocess.run([binary, "auth", "s", "--logout", "--url", base], env=env, check=True, timeout=60)
    if "oauth:s:" in keychain_entries():
        raise SystemExit("the tokens are still in the keychain after --logout")
    log("keychain: tokens stored, never shown, removed by --logout")
    report = os.environ.get("OAUTH_DRIVER_REPORT")
    if report:
        with open(report, "w") as f:
            f.write("keychain ok\n")


def main():
    server_url = sys.argv[-1]
    binary = os.environ["SWITCHBOARD_BIN"]
    work = tempfile.mkdtemp(prefix="sb-oauth-")
    config = os.path.join(work, "servers.json")
    entry = {"url": server_url, "health": {"pingIntervalSecs": 0}}
    # Scenarios with a pre-registered client hand its credentials over in the context; the
    # secret goes in through the environment, as a user would keep it out of the file.
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    if context.get("client_id"):
        entry["oauth"] = {"clientId": context["client_id"]}
        if context.get("client_secret"):
            entry["oauth"]["clientSecret"] = "${env:OAUTH_CLIENT_SECRET}"
            os.environ["OAUTH_CLIENT_SECRET"] = context["client_secret"]
    with open(config, "w") as f:
        json.dump({"mcpServers": {"s": entry}}, f)
    keychain = os.environ.get("OAUTH_DRIVER_KEYCHAIN") == "1"
    env = dict(os.environ, XDG_DATA_HOME=os.path.join(work, "data"),
               XDG_RUNTIME_DIR=os.path.join(work, "run"))
    if not keychain:
        env["SWITCHBOARD_SECRETS"] = "file"
    serve = subprocess.Popen([binary, "serve", "--port", "0", "--config", config], env=env,
                             stdout=subprocess.PIPE, stderr=open(os.path.join(work, "stderr"), "w"),
                             text=True)
    try:
        base = None
        deadline = time.time() + 30
        while base is None and time.time() < deadline:
            line = serve.stdout.readline()
            if line.startswith("switchboard listening on "):
                base = line.split()[-1]
        if base is None:
            raise SystemExit("switchboard did not start")
        # As a user would: sign in whenever the server asks to (at first; after a step-up,
        # when the server wants more scopes; after its authorization server changed), then
        # use the tools.
        for _ in range(4):
            server = wait_state(base, {"needs-auth", "running"}, 60)
            if server["state"] == "needs-auth":
                sign_in(binary, base, env)
                continue
            if asyncio.run(use_tools(f"{base}/servers/s/mcp")):
                break
            # A refused request makes the server wait for a sign-in (the dashboard shows it).
            try:
                wait_state(base, {"needs-auth"}, 10)
            except SystemExit:
                pass
        if keychain:
            check_keychain(binary, base, env, work)
    finally:
        serve.terminate()
        try:
            serve.wait(10)
        except subprocess.TimeoutExpired:
            serve.kill()
        if os.environ.get("OAUTH_DRIVER_VERBOSE"):
            sys.stderr.write(open(os.path.join(work, "stderr")).read())
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
