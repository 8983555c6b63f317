#!/usr/bin/env python3
"""bench/scan: whole-process wall time of `cambrian scan`, picklescan and
modelscan on the same inputs, in one run, with ratios and verdict agreement.

Inputs: (1) the 109-file picklescan corpus (testdata/scan/picklescan),
(2) a generated 2 GiB benign PyTorch zip checkpoint (gen_checkpoint.py,
written without torch). Peers are installed from PyPI into bench/scan/.venv.

    python3 bench/scan/run.py [--repeat N] [--ckpt-mib 2048]

Timings: median of N runs per tool after one warm-up run (page cache warm
for everyone). Ratio = peer time / cambrian time. Verdict agreement: each
tool's per-file verdict against the corpus's expected verdicts (mapping in
docs/scan.md); "equal or better" counts a stricter verdict on a file whose
content cannot be read (password zip, 7z) as better, never a laxer one.
Nothing here unpickles anything: all three tools only read bytes.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VENV = os.path.join(HERE, ".venv")
WORK = os.path.join(HERE, ".work")
CORPUS = os.path.join(ROOT, "testdata", "scan", "picklescan")
ORDER = ["clean", "innocuous", "suspicious", "unreadable", "dangerous"]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def ensure_venv():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        sh([sys.executable, "-m", "venv", VENV])
    if subprocess.run([py, "-c", "import picklescan, modelscan, py7zr"], capture_output=True).returncode != 0:
        sh([py, "-m", "pip", "install", "-q", "picklescan[7z]", "modelscan"])
    vers = subprocess.run([py, "-m", "pip", "list", "--format=json"], capture_output=True, text=True).stdout
    v = {p["name"].lower(): p["version"] for p in json.loads(vers)}
    return py, v.get("picklescan", "?"), v.get("modelscan", "?")


def ensure_cambrian():
    exe = os.environ.get("CAMBRIAN_BIN")
    if exe:
        return exe
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    exe = os.path.join(target, "release", "cambrian")
    sh(["cargo", "build", "--release", "-q", "-p", "cambrian-cli"], cwd=ROOT)
    return exe


def wall(cmd, repeat):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm-up
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def expected():
    idx = json.load(open(os.path.join(CORPUS, "picklescan_expected.json")))
    out = {}
    for e in idx:
        rel = e["file"].split("/", 1)[1]
        t = e["expected"]
        if rel.endswith("benign_password_protected.zip"):
            v = "clean"  # picklescan: warning, no findings
        elif "Dangerous" in t:
            v = "dangerous"
        elif "Innocuous" in t:
            v = "innocuous"
        else:
            v = "clean"
        out[rel] = v
    return out


def agree(got, exp):
    """exact matches, and equal-or-better (never laxer than expected;
    unreadable instead of clean counts as better only for unreadable content)."""
    exact = sum(1 for k, v in exp.items() if got.get(k) == v)
    ok = 0
    for k, v in exp.items():
        g = got.get(k, "missing")
        if g == v:
            ok += 1
        elif v == "dangerous":
            continue
        elif g == "unreadable" and k.endswith(("benign_password_protected.zip",)):
            ok += 1
    return exact, ok


def cambrian_verdicts(exe, paths):
    out = subprocess.run([exe, "scan", "--json", "--fail-on", "never", *paths], capture_output=True, text=True).stdout
    v = {}
    for line in out.splitlines():
        r = json.loads(line)
        if r["type"] == "file":
            v[r["path"]] = r["verdict"]
    return v


def peer_verdicts(py, tool, files):
    out = subprocess.run([py, os.path.join(HERE, "peers.py"), tool, *files], capture_output=True, text=True, cwd=CORPUS).stdout
    return {json.loads(l)["path"]: json.loads(l)["verdict"] for l in out.splitlines() if l.startswith("{")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--ckpt-mib", type=int, default=2048)
    a = ap.parse_args()
    py, psv, msv = ensure_venv()
    exe = ensure_cambrian()
    os.makedirs(WORK, exist_ok=True)
    ckpt = os.path.join(WORK, f"ckpt-{a.ckpt_mib}m.pt")
    if not os.path.exists(ckpt):
        sh([sys.executable, os.path.join(HERE, "gen_checkpoint.py"), ckpt, str(a.ckpt_mib)])
    pscan = os.path.join(VENV, "bin", "picklescan")
    mscan = os.path.join(VENV, "bin", "modelscan")
    print(f"peers: picklescan {psv}, modelscan {msv}; cambrian {exe}; median of {a.repeat} after a warm-up; {os.cpu_count()} CPUs")
    rows = []
    for label, target in [("corpus (109 files)", CORPUS), (f"torch zip {os.path.getsize(ckpt) / 2**30:.2f} GiB", ckpt)]:
        c = wall([exe, "scan", "--json", "--fail-on", "never", target], a.repeat)
        p = wall([pscan, "--path", target], a.repeat)
        m = wall([mscan, "-p", target], a.repeat)
        rows.append((label, c, p, m))
    print(f"\n{'input':<26}{'cambrian':>12}{'picklescan':>12}{'modelscan':>12}{'ratio ps':>10}{'ratio ms':>10}")
    for label, c, p, m in rows:
        print(f"{label:<26}{c * 1000:>10.1f}ms{p * 1000:>10.1f}ms{m * 1000:>10.1f}ms{p / c:>9.1f}x{m / c:>9.1f}x")
    # Verdicts.
    exp = expected()
    files = sorted(exp)
    cv = cambrian_verdicts(exe, [CORPUS])
    pv = peer_verdicts(py, "picklescan", files)
    mv = peer_verdicts(py, "modelscan", files)
    print(f"\nverdicts on the corpus vs the origin project's expectations ({len(files)} files):")
    for name, got in [("cambrian", cv), ("picklescan", pv), ("modelscan", mv)]:
        exact, ok = agree(got, exp)
        missed = [k for k, v in exp.items() if v == "dangerous" and got.get(k) != "dangerous"]
        print(f"  {name:<11} exact {exact}/{len(files)}, equal-or-better {ok}/{len(files)}, dangerous missed {len(missed)}" + (f" ({', '.join(missed[:6])}{'…' if len(missed) > 6 else ''})" if missed else ""))
    ck = cambrian_verdicts(exe, [ckpt])
    ckp = peer_verdicts(py, "picklescan", [ckpt])
    ckm = peer_verdicts(py, "modelscan", [ckpt])
    print(f"\ncheckpoint verdicts: cambrian {list(ck.values())}, picklescan {list(ckp.values())}, modelscan {list(ckm.values())}")


if __name__ == "__main__":
    main()
