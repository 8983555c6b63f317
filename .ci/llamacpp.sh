#!/usr/bin/env bash
# Start/stop a real llama.cpp server (llama-cpp-python) serving
# testdata/llm/llama-2-tiny-random.gguf on 127.0.0.1 for the end-to-end test
# crates/cambrian-eval/tests/llamacpp_e2e.rs.
#
#   .ci/llamacpp.sh start   # prints `export CAMBRIAN_LLAMACPP_URL=http://127.0.0.1:PORT/v1`
#   .ci/llamacpp.sh stop
#   .ci/llamacpp.sh url     # prints the base URL of the running server
#
# State (pid, url, log) lives in $CAMBRIAN_LLAMACPP_STATE (default
# ${TMPDIR:-/tmp}/cambrian-llamacpp). Needs python3 with
# `llama-cpp-python[server]` (installed from PyPI if missing).
# `--interrupt_requests False`: by default llama-cpp-python silently cuts a
# running stream when another request arrives; the test runs 2 in parallel.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${CAMBRIAN_LLAMACPP_STATE:-${TMPDIR:-/tmp}/cambrian-llamacpp}
MODEL="$ROOT/testdata/llm/llama-2-tiny-random.gguf"
PY=${PYTHON:-python3}
READY_TIMEOUT=${CAMBRIAN_LLAMACPP_READY_TIMEOUT:-300}

running() {
  [[ -f "$STATE/pid" ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null
}

start() {
  mkdir -p "$STATE"
  if running; then
    echo "export CAMBRIAN_LLAMACPP_URL=$(cat "$STATE/url")"
    return 0
  fi
  if ! "$PY" -c 'import llama_cpp.server' 2>/dev/null; then
    echo "llamacpp.sh: installing llama-cpp-python[server] from PyPI" >&2
    "$PY" -m pip install --quiet 'llama-cpp-python[server]' >&2
  fi
  local port
  port=${CAMBRIAN_LLAMACPP_PORT:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
  nohup "$PY" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$port" \
    --n_ctx 2048 --n_threads 1 --interrupt_requests False >"$STATE/server.log" 2>&1 &
  echo $! >"$STATE/pid"
  local url="http://127.0.0.1:$port/v1"
  local waited=0
  until curl -fsS -m 5 "$url/models" >/dev/null 2>&1; do
    if ! running; then
      echo "llamacpp.sh: the server exited; log:" >&2
      tail -n 30 "$STATE/server.log" >&2
      rm -f "$STATE/pid"
      return 1
    fi
    if (( waited >= READY_TIMEOUT )); then
      echo "llamacpp.sh: not ready after ${READY_TIMEOUT}s; log:" >&2
      tail -n 30 "$STATE/server.log" >&2
      stop
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "$url" >"$STATE/url"
  echo "llamacpp.sh: llama.cpp server ready at $url (pid $(cat "$STATE/pid"), ${waited}s)" >&2
  echo "export CAMBRIAN_LLAMACPP_URL=$url"
}

stop() {
  if [[ -f "$STATE/pid" ]]; then
    local pid
    pid=$(cat "$STATE/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/pid" "$STATE/url"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) running && cat "$STATE/url" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
