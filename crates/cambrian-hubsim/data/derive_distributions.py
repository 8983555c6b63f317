#!/usr/bin/env python3
"""Derive the generated population's field distributions from real Hub data.

Inputs (see ATTRIBUTION.md): the 16 daily listings in
snapshots/daily_top_by_likes_and_downloads/ and the 35 model_info responses
plus the 2-item listing excerpt in hub/. Output: distributions.json (stdout).

Method:
* categorical shares (pipeline_tag, library_name) = counts over the distinct
  models of all daily listings (latest record per model);
* license shares and tag shares = counts over the 37 model records that carry
  tags (model_info + listing excerpt); tags that are license:, base_model:,
  arxiv:, dataset:, region: or language codes are modelled separately;
* likes / downloads: rank-size (Zipf) fit log(value) = log(c) - alpha*log(rank)
  over the top-300 of the latest day, by least squares; the generator assigns
  value = c * rank^-alpha to a seeded random rank.
"""
import json, glob, math, os, sys, collections

root = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"
snap_files = sorted(glob.glob(os.path.join(root, "snapshots/daily_top_by_likes_and_downloads/20*.json")))
latest = {}
for f in snap_files:
    for m in json.load(open(f))["models"]:
        latest[m["id"]] = m
pipe = collections.Counter(m.get("pipeline_tag") or "" for m in latest.values())
lib = collections.Counter(m.get("library_name") or "" for m in latest.values())

def fit(values):
    v = sorted((x for x in values if x and x > 0), reverse=True)[:300]
    xs = [math.log(i + 1) for i in range(len(v))]
    ys = [math.log(x) for x in v]
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return {"c": math.exp(my - b * mx), "alpha": -b, "n": n, "max": v[0]}

last_day = json.load(open(snap_files[-1]))["models"]
likes_fit = fit([m.get("likes") for m in last_day])
dl_fit = fit([m.get("downloads") for m in last_day])

records = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(root, "hub/model_info/*.json")))]
records += json.load(open(os.path.join(root, "hub/listing_excerpts/api_models_two_items_2025-11.json")))
lic = collections.Counter()
tags = collections.Counter()
langs = collections.Counter()
gated = collections.Counter()
for r in records:
    l = None
    for t in r.get("tags", []):
        if t.startswith("license:"):
            l = t[8:]
        elif t.startswith(("base_model:", "arxiv:", "dataset:", "region:", "doi:")):
            pass
        elif len(t) == 2 and t.isalpha():
            langs[t] += 1
        else:
            tags[t] += 1
    lic[l or ""] += 1
    gated[str(r.get("gated")).lower()] += 1
# Tags that merely repeat pipeline/library are generated from those fields.
for k in list(tags):
    if k in pipe or k in lib:
        del tags[k]
out = {
    "source_models": {"snapshot_distinct": len(latest), "records_with_tags": len(records)},
    "pipeline_tag": sorted(pipe.items(), key=lambda kv: (-kv[1], kv[0])),
    "library_name": sorted(lib.items(), key=lambda kv: (-kv[1], kv[0])),
    "license": sorted(lic.items(), key=lambda kv: (-kv[1], kv[0])),
    "tag_share": sorted(((k, v / len(records)) for k, v in tags.items() if v >= 2), key=lambda kv: (-kv[1], kv[0])),
    "language": sorted(langs.items(), key=lambda kv: (-kv[1], kv[0])),
    "gated": sorted(gated.items(), key=lambda kv: (-kv[1], kv[0])),
    "likes_zipf": likes_fit,
    "downloads_zipf": dl_fit,
}
json.dump(out, sys.stdout, indent=1)
print()
