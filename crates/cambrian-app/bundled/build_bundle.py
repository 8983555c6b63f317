#!/usr/bin/env python3
"""Build snapshots.bundle.gz: the offline dataset embedded in cambrian (include_bytes!).

Usage: python3 build_bundle.py SNAPSHOTS_DIR   (e.g. ../shared/data/snapshots)

Container (then gzip -9, mtime 0 so the output is reproducible):
  b"CAMBUNDLE1\n", then per file: u32 LE name length, UTF-8 relative path,
  u64 LE data length, the file's bytes copied unchanged.
Files: daily_top_by_likes_and_downloads/{*.json, INDEX.json},
api_trending_daily/{*.json, INDEX.json}, trending_page_rank_feed_2025.jsonl.
"""
import gzip, io, os, struct, sys

root = sys.argv[1]
names = []
for sub in ("daily_top_by_likes_and_downloads", "api_trending_daily"):
    names += sorted(os.path.join(sub, f) for f in os.listdir(os.path.join(root, sub)) if f.endswith(".json"))
names.append("trending_page_rank_feed_2025.jsonl")
raw = io.BytesIO()
raw.write(b"CAMBUNDLE1\n")
for n in names:
    data = open(os.path.join(root, n), "rb").read()
    nb = n.encode()
    raw.write(struct.pack("<I", len(nb)) + nb + struct.pack("<Q", len(data)) + data)
with open("snapshots.bundle.gz", "wb") as f:
    with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0, filename="") as g:
        g.write(raw.getvalue())
print(f"{len(names)} files, {raw.tell()} bytes raw, {os.path.getsize('snapshots.bundle.gz')} bytes gzipped")
