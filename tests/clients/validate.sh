#!/usr/bin/env bash
# Validate the test clients WITHOUT Switchboard: run every scenario with every client
# (py under mcp 1.x, py under mcp 2.x, ts) on both transports against
#   * supergateway in front of server-everything over stdio (stateful Streamable HTTP, and SSE)
#   * server-everything's own built-in HTTP modes (streamableHttp, sse)
#   * supergateway in front of mcp-server-time (call scenarios, incl. the JSON-RPC error path)
# Everything binds 127.0.0.1 only (tests/node/loopback-only.cjs is preloaded into node).
# Usage: tests/clients/validate.sh   (after tests/setup.sh). Prints one line per run and a summary
# "N passed, N failed"; exits non-zero if anything failed.
set -euo pipefail

TESTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_DIR="$TESTS/node"
SE="$NODE_DIR/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
SG="$NODE_DIR/node_modules/.bin/supergateway"
export NODE_OPTIONS="--require $NODE_DIR/loopback-only.cjs"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
}
trap 'cleanup; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # start NAME PORT CMD... ; in its own process group so cleanup kills children too
  local name="$1" port="$2"; shift 2
  setsid env PORT="$port" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server $name did not come up on $port:"; cat "$WORK/$name.log"; exit 1
}

P1=$(free_port); start sg-stream "$P1" "$SG" --stdio "node $SE stdio" --outputTransport streamableHttp --stateful --port "$P1"
P2=$(free_port); start sg-sse "$P2" "$SG" --stdio "node $SE stdio" --outputTransport sse --port "$P2"
P3=$(free_port); start se-stream "$P3" node "$SE" streamableHttp
P4=$(free_port); start se-sse "$P4" node "$SE" sse
P5=$(free_port); start sg-time "$P5" "$SG" --stdio "$TESTS/.venv-mcp2/bin/mcp-server-time --local-timezone UTC" --outputTransport streamableHttp --stateful --port "$P5"

declare -A CLIENTS=(
  [py-mcp1]="$TESTS/.venv-mcp1/bin/python $TESTS/clients/py_client.py"
  [py-mcp2]="$TESTS/.venv-mcp2/bin/python $TESTS/clients/py_client.py"
  [ts]="node $TESTS/clients/ts_client.mjs"
)
TARGETS=(
  "supergateway streamable http://127.0.0.1:$P1/mcp"
  "supergateway sse http://127.0.0.1:$P2/sse"
  "builtin streamable http://127.0.0.1:$P3/mcp"
  "builtin sse http://127.0.0.1:$P4/sse"
)
SCENARIOS=(list_tools call progress sampling concurrent resources_prompts)
pass=0; fail=0

# check NAME JSON_LINE PYTHON_ASSERTION
check() {
  local label="$1" line="$2" expr="$3"
  if python3 - "$line" "$expr" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
ok = eval(sys.argv[2], {"d": d})
sys.exit(0 if ok else 1)
EOF
  then pass=$((pass + 1)); printf 'PASS %s\n' "$label"
  else fail=$((fail + 1)); printf 'FAIL %s: %s\n' "$label" "${line:0:400}"; fi
}

declare -A EXPECT=(
  [list_tools]='d["ok"] and "echo" in d["tools"] and "trigger-sampling-request" in d["tools"] and d["serverInfo"]["name"]=="mcp-servers/everything"'
  [call]='d["ok"] and d["text"]=="Echo: hello"'
  [progress]='d["ok"] and len(d["progress"])>=3 and d["progress"][0]["progress"]==1'
  [sampling]='d["ok"] and d["sampling_called"] and d["result_contains_reply"]'
  [concurrent]='d["ok"] and d["successes"]==32 and d["mismatched"]==0'
  [resources_prompts]='d["ok"] and len(d["resources"])>0 and d["read"]["contents"] and len(d["resource_templates"])>0 and "simple-prompt" in d["prompts"]'
)

for target in "${TARGETS[@]}"; do
  read -r server transport url <<<"$target"
  for client in py-mcp1 py-mcp2 ts; do
    for sc in "${SCENARIOS[@]}"; do
      line=$(${CLIENTS[$client]} --url "$url" --transport "$transport" --scenario "$sc" --timeout 30 2>"$WORK/err" | tail -n 1) || true
      check "$server/$transport $client $sc" "${line:-{\}}" "${EXPECT[$sc]}"
    done
  done
done

# mcp-server-time behind supergateway: success, tool error (isError), JSON-RPC error (-32602).
for client in py-mcp1 py-mcp2 ts; do
  url="http://127.0.0.1:$P5/mcp"
  line=$(${CLIENTS[$client]} --url "$url" --transport streamable --scenario call --extra '{"tool":"get_current_time","arguments":{"timezone":"Europe/Paris"}}' 2>"$WORK/err" | tail -n 1) || true
  check "time/streamable $client get_current_time" "${line:-{\}}" 'd["ok"] and "Europe/Paris" in d["text"]'
  line=$(${CLIENTS[$client]} --url "$url" --transport streamable --scenario call --extra '{"tool":"convert_time","arguments":{"source_timezone":"UTC","time":"12:00","target_timezone":"Asia/Tokyo"}}' 2>"$WORK/err" | tail -n 1) || true
  check "time/streamable $client convert_time" "${line:-{\}}" 'd["ok"] and "21:00" in d["text"]'
  line=$(${CLIENTS[$client]} --url "$url" --transport streamable --scenario call --extra '{"tool":"no_such_tool","arguments":{}}' 2>"$WORK/err" | tail -n 1) || true
  check "time/streamable $client unknown-tool error" "${line:-{\}}" 'd["ok"] is False and d["error"]["code"]==-32602'
done

echo "validate: $pass passed, $fail failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
