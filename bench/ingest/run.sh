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
# Env: N, PAGE, WORK (/tmp/cambrian-bench-ingest), CARGO_TARGET_DIR (./target).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-200000}
PAGE=${PAGE:-1000}
WORK=${WORK:-/tmp/cambrian-bench-ingest}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -q -p cambrian-store --example ingest_bench
rm -rf "$WORK" && mkdir -p "$WORK"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$TARGET/release/examples/ingest_bench" "$WORK" "$N" "$PAGE" | tee "$WORK/result.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/result.txt" <<'PY'
import sys
kv = dict(t.split("=", 1) for l in open(sys.argv[1]) for t in l.split() if "=" in t)
goal = 500_000
print()
for path in ("sync", "import"):
    for day in (1, 2):
        w = float(kv[f"{path}_day{day}_records_per_s"]); c = float(kv[f"{path}_day{day}_records_per_cpu_s"])
        print(f"{path:6s} day {day}: {w:>10,.0f} records/s wall, {c:>10,.0f} records/CPU-s   "
              f"(goal {goal:,}: wall x{w/goal:.2f}, CPU x{c/goal:.2f})")
PY
rm -rf "$WORK"
