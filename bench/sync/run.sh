#!/usr/bin/env bash
# bench/sync: records/s of `cambrian sync` (fetch + parse + store, process wall) vs
# huggingface_hub's HfApi().list_models(...) (iterate only) over the same cambrian-hubsim
# listing — same sort (trendingScore, descending), same page size (the server default of
# 1000: huggingface_hub sends no `limit` when iterating everything, cambrian sends
# limit=1000), same expand set — in one run, and their ratios.
#
# cambrian is timed twice:
#   day 1: the first sync into an empty store (every model is new to the store);
#   day 2: the next sync into the same store (the daily case: models known, details
#          unchanged, only the per-snapshot rows are written).
#
# Usage: bench/sync/run.sh [MODELS=200000]
# Needs: cargo; python3 with huggingface_hub (installed with pip if missing, into
# bench/sync/.venv when the system pip refuses).
set -euo pipefail
N=${1:-200000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

# The peer.
PY=python3
if ! $PY -c "import huggingface_hub" 2>/dev/null; then
  if ! $PY -m pip install -q huggingface_hub 2>/dev/null; then
    VENV="$ROOT/bench/sync/.venv"
    [ -x "$VENV/bin/python" ] || $PY -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q huggingface_hub
    PY="$VENV/bin/python"
  fi
fi

cargo build --release -q --manifest-path "$ROOT/Cargo.toml" --bin cambrian --bin cambrian-hubsim
BIN=$CARGO_TARGET_DIR/release
TMP=$(mktemp -d)
SIM_PID=
cleanup() { if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; fi; rm -rf "$TMP"; }
trap cleanup EXIT
"$BIN/cambrian-hubsim" --models "$N" --seed 1 --fault-rate 0 > "$TMP/sim.out" 2> "$TMP/sim.err" &
SIM_PID=$!
for _ in $(seq 1 1200); do [ -s "$TMP/sim.out" ] && break; sleep 0.1; done
URL=$(head -n1 "$TMP/sim.out")
[ -n "$URL" ] || { echo "hubsim did not start:"; cat "$TMP/sim.err"; exit 1; }
# The same expand set as `cambrian sync` (crates/cambrian-app/src/tracking/sync.rs DEFAULT_EXPAND).
EXPAND="author createdAt lastModified downloads downloadsAllTime likes trendingScore pipeline_tag library_name tags gated sha"

echo "hubsim: $URL ($N generated models + 1 declared)"
echo "versions: $("$BIN/cambrian" --version 2>/dev/null || echo cambrian) (git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')), huggingface_hub $($PY -c 'import huggingface_hub;print(huggingface_hub.__version__)'), $($PY --version 2>&1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

csync() { # $1 = label; prints "rows wall cpu store_secs fetch_wait_secs pages bytes"
  env -u HF_TOKEN $PY - "$1" "$BIN/cambrian" "$TMP/store" "$URL" <<'PY'
import json, resource, subprocess, sys, time
label, exe, store, url = sys.argv[1:5]
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.perf_counter()
out = subprocess.run([exe, "--quiet", "--json", "--store", store, "sync", "--endpoint", url, "--page-size", "1000"],
                     check=True, stdout=subprocess.PIPE).stdout
wall = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
d = json.loads(out.decode().splitlines()[-1])
print(d["snapshot"]["models"], wall, cpu, d["store_secs"], d["fetch_wait_secs"], d["pages"], d["bytes_received"])
PY
}

C1=$(csync day1)
P_OUT=$(HF_ENDPOINT="$URL" HF_HUB_DISABLE_TELEMETRY=1 $PY - "$EXPAND" <<'PY'
import sys, time
from huggingface_hub import HfApi
expand = sys.argv[1].split()
t, c = time.perf_counter(), time.process_time()
n = sum(1 for _ in HfApi().list_models(sort="trendingScore", limit=None, expand=expand))
print(n, time.perf_counter() - t, time.process_time() - c)
PY
)
C2=$(csync day2)
# The floor: the same listing (same URL, sort, page size, expand) fetched page by page over one
# keep-alive connection, following the Link header, the bodies read and thrown away — no JSON
# parsing, no storing. No client that waits for a page's Link header before asking for the
# next page can list faster than this from this simulator on this machine.
FLOOR=$($PY - "$URL" "$EXPAND" <<'PY'
import http.client, re, sys, time, urllib.parse
base, expand = sys.argv[1], sys.argv[2].split()
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)
path = "/api/models?" + urllib.parse.urlencode([("sort", "trendingScore"), ("limit", "1000")] + [("expand[]", e) for e in expand])
t, c, n, pages = time.perf_counter(), time.process_time(), 0, 0
while path:
    conn.request("GET", path)
    r = conn.getresponse()
    n += len(r.read()); pages += 1
    m = re.search(r'<([^>]+)>;\s*rel="next"', r.getheader("Link") or "")
    path = None
    if m:
        q = urllib.parse.urlparse(m.group(1))
        path = q.path + ("?" + q.query if q.query else "")
print(pages, n, time.perf_counter() - t, time.process_time() - c)
PY
)
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

$PY - "$C1" "$C2" "$P_OUT" "$FLOOR" <<'PY'
import sys
c1, c2, p, fl = (s.split() for s in sys.argv[1:5])
pr, pw, pc = int(p[0]), float(p[1]), float(p[2])
prate = pr / pw
for label, c in (("day 1, empty store", c1), ("day 2, same store ", c2)):
    rows, wall, cpu, store, wait, pages, nbytes = int(c[0]), float(c[1]), float(c[2]), float(c[3]), float(c[4]), int(c[5]), int(c[6])
    print(f"cambrian sync ({label}): {rows} records, {pages} pages, {nbytes/1e6:.1f} MB in {wall:.2f} s = {rows/wall:,.0f} records/s; CPU {cpu:.2f} s"
          f"  [in the store {store:.2f} s, waiting for pages {wait:.2f} s, rest (start-up, open) {max(wall-store-wait,0):.2f} s]")
print(f"huggingface_hub HfApi().list_models (iterate only): {pr} records in {pw:.2f} s = {prate:,.0f} records/s; CPU {pc:.2f} s")
for label, c in (("day 1", c1), ("day 2", c2)):
    rows, wall, cpu = int(c[0]), float(c[1]), float(c[2])
    print(f"ratio {label} (cambrian / huggingface_hub): records/s (wall) {(rows/wall)/prate:.1f}x, CPU time {pc/cpu:.1f}x")
fpages, fbytes, fwall = int(fl[0]), int(fl[1]), float(fl[2])
print(f"floor: the same {fpages} pages ({fbytes/1e6:.1f} MB) fetched and discarded, no parsing, no storing: {fwall:.2f} s"
      f" -> the largest wall ratio any page-by-page client can reach here: {pw/fwall:.1f}x"
      f" (20x needs the whole sync in {pw/20:.2f} s, {pw/20 - fwall:+.2f} s beyond the floor)")
if not (int(c1[0]) == int(c2[0]) == pr):
    print(f"WARNING: record counts differ: {c1[0]} / {c2[0]} / {pr}")
PY
