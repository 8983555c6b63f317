#!/usr/bin/env python3
"""Per-file verdicts of picklescan and modelscan through their Python APIs
(neither unpickles anything), mapped to cambrian's verdict names.

    peers.py picklescan|modelscan FILE...   -> JSON lines {"path","verdict"}
"""
import json
import sys


def picklescan_verdict(path):
    from picklescan.scanner import scan_file_path, SafetyLevel
    try:
        r = scan_file_path(path)
    except Exception as e:  # the tool itself failed on the file
        return "unreadable", str(e)
    levels = {g.safety for g in r.globals}
    if SafetyLevel.Dangerous in levels:
        return "dangerous", ""
    if r.scan_err:
        return "unreadable", ""
    if SafetyLevel.Suspicious in levels:
        return "suspicious", ""
    if levels:
        return "innocuous", ""
    return "clean", ""


def modelscan_verdict(path):
    from modelscan.modelscan import ModelScan
    try:
        r = ModelScan().scan(path)
    except Exception as e:
        return "unreadable", str(e)
    issues = r.get("issues", [])
    sev = {str(i.get("severity", "")).upper() for i in issues}
    if sev & {"CRITICAL", "HIGH"}:
        return "dangerous", ""
    if sev:
        return "suspicious", ""
    if r.get("errors"):
        return "unreadable", ""
    return "clean", ""


def main():
    tool = sys.argv[1]
    f = picklescan_verdict if tool == "picklescan" else modelscan_verdict
    for p in sys.argv[2:]:
        v, err = f(p)
        print(json.dumps({"path": p, "verdict": v, "error": err}))


if __name__ == "__main__":
    main()
