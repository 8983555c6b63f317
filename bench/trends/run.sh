#!/usr/bin/env bash
# bench/trends: 365 daily snapshots x 200,000 models through cambrian's bulk
# writer; time "category share per day" and "top movers" in cambrian's store
# and in DuckDB over the same rows exported to Parquet, in the same run.
# QUERY_ONLY=1: re-time only the queries of both sides on an earlier run's data in WORK.
# Env: DAYS (365), MODELS (200000), WORK (/tmp/cambrian-bench-trends),
#      CARGO_TARGET_DIR (default ./target). Needs: pip install duckdb pyarrow
set -euo pipefail
cd "$(dirname "$0")/../.."
DAYS=${DAYS:-365}
MODELS=${MODELS:-200000}
WORK=${WORK:-/tmp/cambrian-bench-trends}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
python3 -c "import duckdb, pyarrow" 2>/dev/null || { echo "bench/trends needs: pip install duckdb pyarrow" >&2; exit 2; }
cargo build --release -q -p cambrian-store --example trends_bench
if [ -n "${QUERY_ONLY:-}" ]; then
  # Re-time both sides' queries on the store and Parquet files of an earlier full run in $WORK.
  [ -d "$WORK/store" ] && [ -d "$WORK/parquet" ] || { echo "QUERY_ONLY needs an earlier run in $WORK" >&2; exit 2; }
  echo "== cambrian: queries only over $WORK/store (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  grep -E '^(rows|ingest_[a-z_]+)=' "$WORK/cambrian.txt" > "$WORK/ingest.txt"
  { cat "$WORK/ingest.txt"; "$TARGET/release/examples/trends_bench" "$WORK/store" 0 0; } > "$WORK/cambrian.txt.new"
  mv "$WORK/cambrian.txt.new" "$WORK/cambrian.txt"
  cat "$WORK/cambrian.txt"
else
rm -rf "$WORK" && mkdir -p "$WORK"
echo "== cambrian: generate + ingest $DAYS x $MODELS, then query (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
"$TARGET/release/examples/trends_bench" "$WORK/store" "$DAYS" "$MODELS" "$WORK/csv" | tee "$WORK/cambrian.txt"
fi
echo "query load average after cambrian: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "== duckdb $(python3 -c 'import duckdb; print(duckdb.__version__)'): parquet export + same queries (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
mkdir -p "$WORK/csv"
python3 bench/trends/duckdb_peer.py "$WORK/csv" "$WORK/parquet" | tee "$WORK/duckdb.txt"
echo "query load average after duckdb: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
rm -rf "$WORK/csv"
python3 - "$WORK/cambrian.txt" "$WORK/duckdb.txt" <<'PY'
import sys
def kv(p): return dict(t.split("=", 1) for l in open(p) if not l.startswith(" ") for t in l.split() if "=" in t)
c, d = kv(sys.argv[1]), kv(sys.argv[2])
print()
print(f"rows: cambrian {c['rows']}, duckdb {d['rows']}")
print(f"store size: cambrian sqlite {int(c['store_bytes'])/1e9:.2f} GB, parquet {int(d['parquet_bytes'])/1e9:.2f} GB")
print(f"ingest: cambrian {float(c['ingest_rows_per_s']):,.0f} records/s ({c['ingest_seconds']} s)")
for q in ("share", "movers"):
    cs, ds = float(c[q + "_seconds"]), float(d[q + "_seconds"])
    print(f"{q:7s}: cambrian {cs:.4f} s   duckdb {ds:.4f} s   ratio cambrian/duckdb = {cs/ds:.3f}")
same = all(c[k] == d[k] for k in ("movers_top_likes", "movers_top_downloads", "movers_top20_likes", "movers_top20_downloads"))
print(f"same top-20 lists (likes gained, downloadsAllTime gained): {'OK' if c['movers_top20_likes'] == d['movers_top20_likes'] and c['movers_top20_downloads'] == d['movers_top20_downloads'] else 'MISMATCH'}")
print(f"same answers: top likes {c['movers_top_likes']} vs {d['movers_top_likes']}; top downloads {c['movers_top_downloads']} vs {d['movers_top_downloads']} -> {'OK' if same else 'MISMATCH'}")
print(f"share checksum: cambrian {c['share_checksum']} duckdb {d['share_checksum']}")
PY
