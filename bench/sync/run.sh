#!/usr/bin/env bash
# bench/sync: records/s of `cambrian sync` vs huggingface_hub's HfApi().list_models(...)
# over the same hubsim listing (same sort, page size, expand), in one run, and the ratio.
# Needs: cargo, python3 with `pip install huggingface_hub`.
# Usage: bench/sync/run.sh [MODELS=200000]
set -euo pipefail
N=${1:-200000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-track}
cargo build --release -q --manifest-path "$ROOT/Cargo.toml" --bin cambrian --bin cambrian-hubsim
BIN=$CARGO_TARGET_DIR/release
TMP=$(mktemp -d)
SIM_PID=
cleanup() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
"$BIN/cambrian-hubsim" --models "$N" --seed 1 --fault-rate 0 > "$TMP/sim.out" 2> "$TMP/sim.err" &
SIM_PID=$!
for _ in $(seq 1 600); do [ -s "$TMP/sim.out" ] && break; sleep 0.1; done
URL=$(head -n1 "$TMP/sim.out")
echo "hubsim: $URL ($N generated models)"
EXPAND="author createdAt lastModified downloads downloadsAllTime likes trendingScore pipeline_tag library_name tags gated sha"

t0=$(date +%s.%N)
env -u HF_TOKEN "$BIN/cambrian" --quiet --json --store "$TMP/store" sync --endpoint "$URL" --page-size 1000 > "$TMP/sync.json"
t1=$(date +%s.%N)
C_ROWS=$(python3 -c "import json;print(json.load(open('$TMP/sync.json'))['snapshot']['models'])")
C_WALL=$(python3 -c "print($t1-$t0)")

P_OUT=$(HF_ENDPOINT="$URL" HF_HUB_DISABLE_TELEMETRY=1 python3 - "$EXPAND" <<'PY'
import sys, time
from huggingface_hub import HfApi
expand = sys.argv[1].split()
t = time.time()
n = sum(1 for _ in HfApi().list_models(sort="trendingScore", limit=None, expand=expand))
print(n, time.time() - t)
PY
)
P_ROWS=${P_OUT% *}; P_WALL=${P_OUT#* }
python3 - "$C_ROWS" "$C_WALL" "$P_ROWS" "$P_WALL" <<'PY'
import sys
cr, cw, pr, pw = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
print(f"cambrian sync (fetch + parse + store, process wall): {cr} records in {cw:.2f} s = {cr/cw:,.0f} records/s")
print(f"huggingface_hub HfApi().list_models (iterate only):   {pr} records in {pw:.2f} s = {pr/pw:,.0f} records/s")
print(f"ratio (cambrian / huggingface_hub, records/s): {(cr/cw)/(pr/pw):.1f}x")
PY
