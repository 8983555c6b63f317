#!/usr/bin/env python3
"""bench/eval — items/s and client CPU per item: cambrian's eval runner vs promptfoo.

Both tools evaluate the same 2,000 items (exact-match assertion) against the
same instant local OpenAI-compatible stub (`cambrian-llmsim`, 1 worker thread,
127.0.0.1) at concurrency 32, measured as whole processes in one run of this
script: wall time from spawn to exit, and user+sys CPU of the process tree
(getrusage(RUSAGE_CHILDREN) deltas). The stub's own CPU is not counted.

cambrian side: the `cambrian eval` CLI as a user runs it (`--scorer exact
--concurrency 32 --json`, a fresh store): AIMD concurrency, warm-up request,
response cache written, fsync'd journal, statistics and the JSON Lines report.
promptfoo side: the newest release that runs on this Node (package.json),
`promptfoo eval -j 32 --no-cache`, results written to its database and a JSON file.

usage: bench/eval/run.py [--items 2000] [--concurrency 32] [--no-build]
needs: cargo (release build), node + `npm install` in bench/eval.
"""
import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def build():
    subprocess.run(
        ["cargo", "build", "--release", "--bin", "cambrian-llmsim", "--bin", "cambrian"],
        cwd=ROOT, check=True)


def make_items(work, n, seed=7):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(1, 999), rng.randint(1, 999)
        rows.append({"id": f"q{i}", "input": f"What is {a} + {b}? Reply with the number only.\n#answer:{a + b}",
                     "expected": str(a + b)})
    with open(os.path.join(work, "tests.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return rows


def promptfoo_config(work, rows, url, conc):
    cfg = {
        "description": "cambrian bench/eval peer",
        "prompts": ["{{input}}"],
        "providers": [{"id": "openai:chat:sim", "config": {
            "apiBaseUrl": url, "apiKey": "sk-bench-not-secret", "temperature": 0, "max_tokens": 64}}],
        "defaultTest": {"assert": [{"type": "equals", "value": "{{expected}}"}]},
        "evaluateOptions": {"maxConcurrency": conc},
        "tests": [{"vars": {"input": r["input"], "expected": r["expected"]}} for r in rows],
    }
    path = os.path.join(work, "promptfooconfig.yaml")
    with open(path, "w") as f:
        json.dump(cfg, f)  # JSON is YAML
    return path


def sim_stats(url):
    with urllib.request.urlopen(url.replace("/v1", "/stats"), timeout=10) as r:
        return json.load(r)


def measure(cmd, env, cwd):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if p.returncode not in (0, 100):  # promptfoo exits 100 when assertions fail
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"{cmd[0]} failed with exit code {p.returncode}")
    return wall, cpu, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--cambrian-only", action="store_true", help="skip the peer (no ratio)")
    args = ap.parse_args()
    if not args.no_build:
        build()
    sim_bin = os.path.join(TARGET, "release", "cambrian-llmsim")
    cambrian = os.path.join(TARGET, "release", "cambrian")
    pf = os.path.join(HERE, "node_modules", ".bin", "promptfoo")
    if args.cambrian_only:
        pf_version = "(not run)"
    elif not os.path.exists(pf):
        raise SystemExit("promptfoo missing: run `npm install` in bench/eval")
    else:
        pf_version = json.load(open(os.path.join(HERE, "node_modules", "promptfoo", "package.json")))["version"]
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()

    work = tempfile.mkdtemp(prefix="cambrian-bench-eval-")
    sim = subprocess.Popen([sim_bin, "--threads", "1"], stdout=subprocess.PIPE, text=True)
    try:
        url = sim.stdout.readline().strip()
        rows = make_items(work, args.items)
        n = len(rows)
        results = {}

        # cambrian: median (by wall) of 3 runs, each on a fresh store (cold response cache)
        runs = []
        for k in range(3):
            cw = os.path.join(work, f"cambrian{k}")
            os.makedirs(cw)
            before = sim_stats(url)["requests"]
            wall, cpu, p = measure([cambrian, "--store", os.path.join(cw, "store"), "--json", "eval",
                                    "--tests", os.path.join(work, "tests.jsonl"), "--model", f"sim={url}",
                                    "--scorer", "exact", "--concurrency", str(args.concurrency)],
                                   dict(os.environ, NO_COLOR="1"), cw)
            recs = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
            summary = next(r for r in recs if r.get("type") == "model")
            runs.append(dict(wall=wall, cpu=cpu, correct=summary["correct"], items=summary["n"],
                             requests=sim_stats(url)["requests"] - before))
        runs.sort(key=lambda r: r["wall"])
        results["cambrian"] = runs[1]

        # promptfoo
        if args.cambrian_only:
            raise StopIteration
        pw = os.path.join(work, "promptfoo")
        os.makedirs(pw)
        cfg = promptfoo_config(pw, rows, url, args.concurrency)
        env = dict(os.environ, PROMPTFOO_DISABLE_TELEMETRY="1", PROMPTFOO_DISABLE_UPDATE="1",
                   PROMPTFOO_CONFIG_DIR=os.path.join(pw, "config"), PROMPTFOO_CACHE_ENABLED="false",
                   PROMPTFOO_DISABLE_SHARING="1", OPENAI_API_KEY="sk-bench-not-secret", NO_COLOR="1")
        before = sim_stats(url)["requests"]
        out_json = os.path.join(pw, "results.json")
        wall, cpu, p = measure([pf, "eval", "-c", cfg, "-j", str(args.concurrency), "--no-cache",
                                "--no-progress-bar", "--no-table", "-o", out_json], env, pw)
        res = json.load(open(out_json))
        stats = res.get("results", {}).get("stats", {})
        results["promptfoo"] = dict(wall=wall, cpu=cpu, correct=stats.get("successes"),
                                    items=(stats.get("successes") or 0) + (stats.get("failures") or 0)
                                    + (stats.get("errors") or 0),
                                    requests=sim_stats(url)["requests"] - before)
    except StopIteration:
        pass
    finally:
        sim.terminate()
        sim.wait()
        shutil.rmtree(work, ignore_errors=True)

    print(f"bench/eval: {n} items, concurrency {args.concurrency}, stub cambrian-llmsim (1 thread, 127.0.0.1), "
          f"whole process (cambrian: median of 3 fresh-store runs; promptfoo: 1 run); promptfoo {pf_version} on node {node_version}; {os.cpu_count()} cores")
    print(f"{'tool':<10} {'items':>6} {'correct':>8} {'requests':>9} {'wall s':>8} {'items/s':>9} "
          f"{'CPU s':>7} {'CPU ms/item':>12}")
    for tool, r in results.items():
        r["ips"] = r["items"] / r["wall"]
        r["cpu_ms"] = r["cpu"] * 1000 / max(r["items"], 1)
        print(f"{tool:<10} {r['items']:>6} {r['correct']:>8} {r['requests']:>9} {r['wall']:>8.2f} {r['ips']:>9.0f} "
              f"{r['cpu']:>7.2f} {r['cpu_ms']:>12.3f}")
    if "promptfoo" not in results:
        return
    c, p = results["cambrian"], results["promptfoo"]
    print(f"ratio items/s cambrian/promptfoo = {c['ips'] / p['ips']:.1f}x; "
          f"CPU per item promptfoo/cambrian = {p['cpu_ms'] / c['cpu_ms']:.1f}x")
    print(json.dumps({"type": "bench-eval", "items": n, "concurrency": args.concurrency,
                      "promptfoo_version": pf_version, "results": results,
                      "ratio_items_per_s": c["ips"] / p["ips"]}))


if __name__ == "__main__":
    main()
