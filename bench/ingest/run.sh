#!/usr/bin/env bash
# bench/ingest: records/s of the store's write paths, excluding HTTP and JSON
# parsing, on N realistic ModelRecords (default 200,000; hubsim-like fields):
#   sync   = begin_snapshot + append_batch in pages of PAGE (default 1000) with a
#            checkpoint each + complete_snapshot (what `cambrian sync` does)
#   import = one import_snapshot (what `cambrian import` does per file)
# each for day 1 (fresh store, every model new) and day 2 (a newly opened store,
# as the next day's process: counters grown, 0.5 % new models, 3 % changed details).
# Prints wall and CPU figures and the load average. No peer: the figure is
# compared with the goal (>= 500,000 records/s).
# RUNS (default 3) repeats the whole measurement, each on fresh stores, and
# prints every run and the median of each figure: on a shared 2-core machine
# one run can be 20 % off either way.
# Env: N, PAGE, RUNS, WORK (/tmp/cambrian-bench-ingest), CARGO_TARGET_DIR (./target),
# INGEST_DRIFT (default 50: day 2's listing order is day 1's with each record
# swapped up to 50 places on; 200000: an order unrelated to the store's keys).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-200000}
PAGE=${PAGE:-1000}
RUNS=${RUNS:-3}
WORK=${WORK:-/tmp/cambrian-bench-ingest}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -q -p cambrian-store --example ingest_bench
rm -rf "$WORK" && mkdir -p "$WORK"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$RUNS"); do
  echo "== run $run of $RUNS"
  mkdir -p "$WORK/stores"
  "$TARGET/release/examples/ingest_bench" "$WORK/stores" "$N" "$PAGE" | tee "$WORK/result-$run.txt"
  rm -rf "$WORK/stores"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK"/result-*.txt <<'PY'
import statistics, sys
runs = [dict(t.split("=", 1) for l in open(f) for t in l.split() if "=" in t) for f in sys.argv[1:]]
goal = 500_000
print(f"\n{len(runs)} run(s); median, then every run (records/s wall):")
for path in ("sync", "import"):
    for day in (1, 2):
        ws = [float(r[f"{path}_day{day}_records_per_s"]) for r in runs]
        cs = [float(r[f"{path}_day{day}_records_per_cpu_s"]) for r in runs]
        w, c = statistics.median(ws), statistics.median(cs)
        each = " · ".join(f"{x:,.0f}" for x in ws)
        print(f"{path:6s} day {day}: {w:>10,.0f} records/s wall, {c:>10,.0f} records/CPU-s   "
              f"(goal {goal:,}: wall x{w/goal:.2f}, CPU x{c/goal:.2f})   runs: {each}")
PY
rm -rf "$WORK"
