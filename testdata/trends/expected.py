#!/usr/bin/env python3
"""Independent computation of the figures asserted by the trends tests
(crates/cambrian-app/src/trends/tests.rs), straight from the raw archive files
in this folder. Run: python3 testdata/trends/expected.py"""
import json, os, glob
from collections import Counter

here = os.path.dirname(os.path.abspath(__file__))

def load_daily():
    days = []
    for p in sorted(glob.glob(os.path.join(here, "daily_top_by_likes_and_downloads", "2026-*.json"))):
        d = json.load(open(p))
        seen, models = set(), []
        for m in d["models"]:  # first occurrence wins
            if m["id"] in seen:
                continue
            seen.add(m["id"])
            models.append(m)
        days.append((d["date"], models))
    return days

days = load_daily()
print("daily snapshots:", len(days))
for date, models in (days[0], days[-1]):
    c = Counter(m.get("pipeline_tag") for m in models)
    n = len(models)
    print(f"{date}: models={n} text-generation={c['text-generation']} share={c['text-generation']/n:.10f}")
    likes_tot = sum(m.get("likes") or 0 for m in models)
    likes_tg = sum(m.get("likes") or 0 for m in models if m.get("pipeline_tag") == "text-generation")
    print(f"{date}: likes_total={likes_tot} likes_text_generation={likes_tg} share={likes_tg/likes_tot:.10f}")
    lib = Counter(m.get("library_name") for m in models)
    print(f"{date}: transformers={lib['transformers']} diffusers={lib['diffusers']} none={lib[None]}")

first = {m["id"]: m for m in days[0][1]}
last = {m["id"]: m for m in days[-1][1]}
rank_first = {m["id"]: i + 1 for i, m in enumerate(days[0][1])}
rank_last = {m["id"]: i + 1 for i, m in enumerate(days[-1][1])}
gains = sorted(
    ((last[k]["likes"] - first[k]["likes"], k) for k in first if k in last and first[k].get("likes") is not None and last[k].get("likes") is not None),
    key=lambda t: (-t[0], t[1]),
)
print("top likes gainers 08-07 -> 08-22:", gains[:5])
print("new entries:", len(set(last) - set(first)), "dropped:", len(set(first) - set(last)))
roll = sorted(((m["downloads"], k) for k, m in last.items() if m.get("downloads") is not None), key=lambda t: (-t[0], t[1]))
print("top rolling-30d downloads at 08-22:", roll[:3])
climb = sorted(((rank_first[k] - rank_last[k], k) for k in first if k in last), key=lambda t: (-t[0], t[1]))
print("top rank climbers:", climb[:3])

# api_trending: mean share of text-generation by ISO week is checked for one week.
tr = []
for p in sorted(glob.glob(os.path.join(here, "api_trending_daily", "2026-*.json"))):
    d = json.load(open(p))
    tags = [v["repoData"].get("pipeline_tag") for v in d.values()]
    tr.append((os.path.basename(p)[:10], tags))
print("api_trending snapshots:", len(tr))
import datetime
wk = [(date, tags) for date, tags in tr if datetime.date.fromisoformat(date).isocalendar()[:2] == (2026, 32)]
shares = [t.count("image-text-to-text") / len(t) for _, t in wk]
print("2026-W32 days:", [d for d, _ in wk], "mean image-text-to-text share:", f"{sum(shares)/len(shares):.10f}")
