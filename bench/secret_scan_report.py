#!/usr/bin/env python3
"""Markdown tables for `bench/secret_scan.sh`: wall times (hyperfine JSON exports) and what each
tool found, matched against the planted secrets by file and line (and commit, for history).

    secret_scan_report.py DIR

DIR holds planted.json, the tools' outputs (cutover-full.json, cutover-tree.json, ds.json,
sl.json) and the timings (time-*.json).
"""

import glob
import json
import os
import statistics
import sys
from collections import Counter

d = sys.argv[1]
planted = json.load(open(os.path.join(d, "planted.json")))
repo = os.path.join(d, "repo")


def cutover(name):
    report = json.load(open(os.path.join(d, name)))
    return [(f["file"], f["line"], f["commit"], f["rule"]) for f in report["findings"]]


def detect_secrets():
    report = json.load(open(os.path.join(d, "ds.json")))
    return [(path, i["line_number"], None, i["type"]) for path, items in report["results"].items() for i in items]


def secretlint():
    report = json.load(open(os.path.join(d, "sl.json")))
    return [
        (os.path.relpath(r["filePath"], repo), m["loc"]["start"]["line"], None, m["ruleId"].replace("@secretlint/secretlint-rule-", ""))
        for r in report
        for m in r["messages"]
    ]


tools = {
    "cutover (working tree + history)": cutover("cutover-full.json"),
    "cutover (working tree only)": cutover("cutover-tree.json"),
    "detect-secrets": detect_secrets(),
    "secretlint": secretlint(),
}


def key_of(p, in_tree):
    return (p["file"], p["head_line"], None) if in_tree else (p["file"], p["line"], p["commit"])


def found_by(findings):
    keys = {(f, line, commit) for f, line, commit, _ in findings}
    tree = [p for p in planted if p["head"] and key_of(p, True) in keys]
    history = [p for p in planted if key_of(p, False) in keys]
    planted_keys = {key_of(p, True) for p in planted if p["head"]} | {key_of(p, False) for p in planted}
    planted_files = {p["file"] for p in planted}
    rest = [(f, line, commit, rule) for f, line, commit, rule in findings if (f, line, commit) not in planted_keys]
    # A second report of a planted secret (another rule, or the start of a JSON document).
    again = [x for x in rest if x[0] in planted_files]
    other = [x for x in rest if x[0] not in planted_files]
    return tree, history, again, other


# --- times ---------------------------------------------------------------------------------
print("### Wall time\n")
print("| tool | what it scans | runs | median | min | max |")
print("|---|---|---:|---:|---:|---:|")
stats = json.load(open(os.path.join(d, "cutover-full.json")))["stats"]
scopes = {
    "cutover (working tree + history)": f"files at HEAD + {stats['blobs']} blobs of {stats['commits']} commits (all refs)",
    "cutover (working tree only)": "files at HEAD",
    "detect-secrets": "files at HEAD (git-tracked)",
    "secretlint": "files at HEAD (`**/*`)",
}
medians = {}
for path in sorted(glob.glob(os.path.join(d, "time-*.json"))):
    for r in json.load(open(path))["results"]:
        name = r["command"]
        medians[name] = statistics.median(r["times"])
        print(
            f"| {name} | {scopes.get(name, '')} | {len(r['times'])} | {medians[name]:.2f} s | {min(r['times']):.2f} s | {max(r['times']):.2f} s |"
        )
tree_median = medians.get("cutover (working tree only)")
full_median = medians.get("cutover (working tree + history)")
if tree_median and full_median:
    print()
    for name in ("detect-secrets", "secretlint"):
        if name in medians:
            print(
                f"- {name}: {medians[name] / tree_median:.0f}x the time of cutover on the same files, "
                f"{medians[name] / full_median:.0f}x the time of cutover with the whole history as well."
            )

# --- findings ------------------------------------------------------------------------------
in_tree = [p for p in planted if p["head"]]
only_history = [p for p in planted if not p["head"]]
print("\n### Findings\n")
print(
    f"{len(planted)} planted secrets: {len(in_tree)} in the working tree (their introducing commits are in "
    f"history too), {len(only_history)} only in history (deleted, replaced, or on a branch never merged).\n"
)
print(
    "| tool | planted, working tree | planted, history only | reports at other lines of a planted secret's file "
    "| findings anywhere else (false positives: nothing else in the repository is a secret) |"
)
print("|---|---:|---:|---:|---:|")
results = {}
for name, findings in tools.items():
    tree, history, again, other = found_by(findings)
    results[name] = (tree, history, again, other)
    history_only = [p for p in history if not p["head"]]
    hist = f"{len(history_only)}/{len(only_history)}" if "history" in name else "not scanned"
    print(f"| {name} | {len(tree)}/{len(in_tree)} | {hist} | {len(again)} | {len(other)} |")

print("\n### Each planted secret\n")
names = list(tools)
print("| secret | file:line | where | " + " | ".join(names) + " |")
print("|---|---|---|" + "---|" * len(names))
for p in planted:
    cells = []
    for name in names:
        tree, history, _, _ = results[name]
        hit = (p in tree) if p["head"] else (p in history)
        cells.append("found" if hit else "—")
    where = "working tree" if p["head"] else f"history ({p['commit'][:7]})"
    line = p["head_line"] if p["head"] else p["line"]
    print(f"| {p['type']} | `{p['file']}:{line}` | {where} | " + " | ".join(cells) + " |")

print("\n### Findings that are not a planted secret, by kind\n")
for name in ("detect-secrets", "secretlint", "cutover (working tree + history)"):
    _, _, again, other = results[name]
    if again:
        print(f"- **{name}**, at another line of a planted secret's file: " + ", ".join(f"{rule} at `{f}:{line}`" for f, line, _, rule in again))
    kinds = Counter(rule for _, _, _, rule in other)
    files = Counter(os.path.basename(f) if f.startswith(".") or "/" not in f else f.split("/")[0] + "/…" for f, _, _, _ in other)
    summary = ", ".join(f"{rule}: {n}" for rule, n in kinds.most_common()) or "none"
    where = ", ".join(f"`{f}` {n}" for f, n in files.most_common(6))
    print(f"- **{name}**, elsewhere: {summary}" + (f" (in {where})" if where else ""))

union = {id(p) for name in ("detect-secrets", "secretlint") for p in results[name][0]}
missed = [p for p in planted if id(p) in union and p not in results["cutover (working tree only)"][0]]
print(
    "\nEvery planted secret that detect-secrets or secretlint found, cutover found too: "
    + ("yes." if not missed else "no, it missed " + ", ".join(f"{p['type']} in `{p['file']}`" for p in missed) + ".")
)
