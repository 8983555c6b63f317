#!/usr/bin/env python3
"""DuckDB peer for bench/trends: converts the generator's per-day CSV files to
Parquet (zstd, one file per day), then times the same two queries cambrian
answers: category share per day (pipeline_tag; presence, likes, downloads) and
top movers first -> last day (likes gained, downloadsAllTime difference).
Prints key=value lines. Usage: duckdb_peer.py CSV_DIR PARQUET_DIR"""
import glob, os, statistics, sys, time

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

csv_dir, pq_dir = sys.argv[1], sys.argv[2]
os.makedirs(pq_dir, exist_ok=True)
t0 = time.perf_counter()
convert = pacsv.ConvertOptions(column_types={"pipeline_tag": "string", "library_name": "string", "base_family": "string"},
                               strings_can_be_null=True)
for p in sorted(glob.glob(os.path.join(csv_dir, "day-*.csv"))):
    out = os.path.join(pq_dir, os.path.basename(p).replace(".csv", ".parquet"))
    pq.write_table(pacsv.read_csv(p, convert_options=convert), out, compression="zstd")
print(f"parquet_seconds={time.perf_counter() - t0:.1f}")
size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(pq_dir, "*.parquet")))
print(f"parquet_bytes={size}")

con = duckdb.connect()
src = f"read_parquet('{pq_dir}/*.parquet')"
rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
print(f"rows={rows}")
last_day = con.execute(f"SELECT max(day) FROM {src}").fetchone()[0]

SHARE = f"""
SELECT day, pipeline_tag, n, n / sum(n) OVER (PARTITION BY day) AS share_models,
       l / nullif(sum(l) OVER (PARTITION BY day), 0) AS share_likes,
       d / nullif(sum(d) OVER (PARTITION BY day), 0) AS share_downloads
FROM (SELECT day, pipeline_tag, count(*) AS n, sum(likes) AS l, sum(dl30) AS d FROM {src} GROUP BY day, pipeline_tag)
"""
MOVERS = f"""
WITH a AS (SELECT model, likes, dlall FROM {src} WHERE day = 0),
     b AS (SELECT model, likes, dlall FROM {src} WHERE day = {last_day}),
     j AS (SELECT b.model, b.likes - a.likes AS gained, b.dlall - a.dlall AS dl FROM a JOIN b USING (model))
SELECT (SELECT list(model ORDER BY gained DESC, model) FROM (SELECT * FROM j ORDER BY gained DESC, model LIMIT 20)),
       (SELECT list(gained ORDER BY gained DESC, model) FROM (SELECT * FROM j ORDER BY gained DESC, model LIMIT 20)),
       (SELECT list(model ORDER BY dl DESC, model) FROM (SELECT * FROM j ORDER BY dl DESC, model LIMIT 20)),
       (SELECT list(dl ORDER BY dl DESC, model) FROM (SELECT * FROM j ORDER BY dl DESC, model LIMIT 20))
"""

def timed(sql, n=3):
    ts, res = [], None
    for _ in range(n):
        t = time.perf_counter()
        res = con.execute(sql).fetchall()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), res

t_share, share = timed(SHARE)
check = sum(r[3] + (r[4] or 0) for r in share)
print(f"share_rows={len(share)} share_checksum={check:.3f}")
print(f"share_seconds={t_share:.4f}")
t_mov, mov = timed(MOVERS)
print(f"movers_top_likes={mov[0][0][0]}:{mov[0][1][0]}")
print(f"movers_top_downloads={mov[0][2][0]}:{mov[0][3][0]}")
print("movers_top20_likes=" + ",".join(f"{m}:{v}" for m, v in zip(mov[0][0], mov[0][1])))
print("movers_top20_downloads=" + ",".join(f"{m}:{v}" for m, v in zip(mov[0][2], mov[0][3])))
print(f"movers_seconds={t_mov:.4f}")
print(f"threads={con.execute('SELECT current_setting(' + repr('threads') + ')').fetchone()[0]}")
