#!/usr/bin/env bash
# bench/find: the `cambrian find` funnel over a 100,000-model snapshot with every
# model's details already cached in the store (warm cache, no network needed).
# Goal (issue 5): < 1 s wall for the whole process. No peer is named for this one.
#
# Steps: start cambrian-hubsim with N generated models; `cambrian sync` them into
# a fresh store (one snapshot of N models); warm the detail cache with one
# `cambrian find` over every model (no filters: details + config.json + base
# models fetched from hubsim and cached); stop hubsim; then time, as whole
# processes, RUNS runs each of
#   A: find --use commercial --gpu 24GB --context 8192 --task text-generation
#   B: find --use commercial --gpu 24GB --context 8192            (wider: no --task)
# with the endpoint pointing at the stopped simulator (any network use would
# show up as `unavailable` details; the script checks fetched = failed = 0).
#
# Usage: bench/find/run.sh [N=100000]
# Env: RUNS (5), WORK (mktemp), CARGO_TARGET_DIR (default ./target),
#      KEEP=1 keeps WORK (the warmed store) for re-runs; STORE=DIR skips setup and
#      reuses a warmed store from a previous KEEP=1 run.
set -euo pipefail
N=${1:-100000}
RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release -q --manifest-path "$ROOT/Cargo.toml" --bin cambrian --bin cambrian-hubsim
BIN=$CARGO_TARGET_DIR/release
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
SIM_PID=
cleanup() {
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; fi
  if [ -z "${KEEP:-}" ] && [ -z "${STORE:-}" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
C() { env -u HF_TOKEN -u HF_ENDPOINT NO_COLOR=1 "$BIN/cambrian" --quiet "$@"; }

if [ -n "${STORE:-}" ]; then
  S=$STORE
  URL=$(cat "$S/.bench-endpoint" 2>/dev/null || echo "http://127.0.0.1:9")
  echo "reusing warmed store $S"
else
  S=$WORK/store
  "$BIN/cambrian-hubsim" --models "$N" --seed 7 --fault-rate 0 > "$WORK/sim.out" 2> "$WORK/sim.err" &
  SIM_PID=$!
  for _ in $(seq 1 1200); do [ -s "$WORK/sim.out" ] && break; sleep 0.1; done
  URL=$(head -n1 "$WORK/sim.out")
  echo "hubsim: $URL ($N generated models, seed 7)"
  t0=$(date +%s.%N)
  C --json --store "$S" sync --endpoint "$URL" --page-size 1000 > "$WORK/sync.json"
  t1=$(date +%s.%N)
  echo "sync: $(python3 -c "import json;print(json.load(open('$WORK/sync.json'))['snapshot']['models'])") models in $(python3 -c "print(round($t1-$t0,1))") s"
  # Warm the cache: every model of the snapshot (no filters), 32 requests at a time.
  t0=$(date +%s.%N)
  C --json --store "$S" find --use research --include-gated --include-review --endpoint "$URL" --concurrency 32 > "$WORK/warm.jsonl" || true
  t1=$(date +%s.%N)
  python3 - "$WORK/warm.jsonl" "$(python3 -c "print(round($t1-$t0,1))")" <<'PY'
import json, sys
s = next(json.loads(l) for l in open(sys.argv[1]) if '"find.summary"' in l)
print(f"cache warm-up (first find, fetching from hubsim): {s['details']} in {sys.argv[2]} s")
PY
  kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=
  echo "$URL" > "$S/.bench-endpoint"
  echo "hubsim stopped: the timed runs must not need it"
fi

A=(find --use commercial --gpu 24GB --context 8192 --task text-generation --endpoint "$URL")
B=(find --use commercial --gpu 24GB --context 8192 --endpoint "$URL")
# Correctness of the setup: nothing fetched, nothing unavailable, every model accounted for.
for q in A B; do
  declare -n args=$q
  C --json --store "$S" "${args[@]}" > "$WORK/$q.jsonl" || true
done
python3 - "$WORK" "$N" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
for q in "AB":
    recs = [json.loads(l) for l in open(f"{work}/{q}.jsonl")]
    s = next(r for r in recs if r["type"] == "find.summary")
    d = s["details"]
    assert d["fetched"] == 0 and d["failed"] == 0, f"{q}: details were not all cached: {d}"
    stages = [r for r in recs if r["type"] == "find.stage"]
    models = s["snapshot"]["models"]
    assert s["shortlisted"] + s["excluded"] == models, f"{q}: {s['shortlisted']} + {s['excluded']} != {models}"
    funnel = " → ".join(f"{r['stage']} {r['passed']}" for r in stages if r["active"])
    print(f"{q}: {models} models considered, {d['from_cache']} detail lookups from cache, "
          f"{s['shortlisted']} shortlisted, {s['excluded']} excluded; funnel: {funnel}")
    open(f"{work}/{q}.models", "w").write(str(models))
PY

time_runs() { # label, then the command; prints one line per run and the median
  local label=$1; shift
  python3 - "$label" "$RUNS" "$@" <<'PY'
import os, resource, subprocess, sys, time, statistics
label, runs, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_ENDPOINT")}
env["NO_COLOR"] = "1"
walls, cpus = [], []
for i in range(runs):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    walls.append(time.perf_counter() - t)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds (user + sys) of the process: less sensitive than wall time to other load.
    cpus.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    if p.returncode not in (0, 3):
        sys.exit(f"{label}: exit {p.returncode}: {p.stderr.decode()[-2000:]}")
print(f"{label}: wall {' '.join(f'{w:.3f}' for w in walls)} s; median {statistics.median(walls):.3f} s, best {min(walls):.3f} s")
print(f"{label}: cpu (user+sys) {' '.join(f'{c:.3f}' for c in cpus)} s; median {statistics.median(cpus):.3f} s")
print(f"MEDIAN {label} {statistics.median(walls)}")
PY
}

echo "load average before timing: $(cut -d' ' -f1-3 /proc/loadavg)"
OUT=$WORK/timings.txt
: > "$OUT"
time_runs A "$BIN/cambrian" --quiet --store "$S" "${A[@]}" | tee -a "$OUT"
time_runs B "$BIN/cambrian" --quiet --store "$S" "${B[@]}" | tee -a "$OUT"
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average after timing: $LOAD"
python3 - "$OUT" "$WORK" "$LOAD" <<'PY'
import sys
med = {l.split()[1]: float(l.split()[2]) for l in open(sys.argv[1]) if l.startswith("MEDIAN")}
work = sys.argv[2]
desc = {"A": "--use commercial --gpu 24GB --context 8192 --task text-generation",
        "B": "--use commercial --gpu 24GB --context 8192 (no --task)"}
print()
for q, w in med.items():
    n = int(open(f"{work}/{q}.models").read())
    verdict = "PASS" if w < 1.0 else "FAIL"
    print(f"find {desc[q]}: {n} models considered in {w:.3f} s (median wall, whole process) = {n/w:,.0f} models/s; goal < 1 s: {verdict}")
print(f"load average (1/5/15 min) at the end: {sys.argv[3]}")
PY
