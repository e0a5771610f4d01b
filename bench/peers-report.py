#!/usr/bin/env python3
"""The table of bench/peers.sh: reads a peers results folder (saturation/runs.txt,
syscalls/counts.txt, scale/scale.json from scripts/bench-scale.sh) and writes peers.json (a row
per server), peers.md (the table, each figure also as a ratio to the best peer's) and peers.dat
(for scripts/plot-peers.gp), and prints the table.

    peers-report.py DIR "MODEL:SIZE ..." "PEER:SIZE ..." COUNTER

A figure that was not measured (a part not run, a server that did not start) is null in the
JSON and "-" in the table. Standard library only."""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def saturation(out):
    """config -> (pages a second, CPU us a page, failures), from saturation/runs.txt ("CONFIG
    CPU_S", -1 when the server did not start) and each run's NAME.load.json."""
    rows = {}
    try:
        with open(os.path.join(out, "saturation", "runs.txt")) as f:
            runs = [line.split()[:2] for line in f if line.strip()]
    except OSError:
        return rows
    for cfg, cpu_s in runs:
        run = load(os.path.join(out, "saturation", cfg.replace(":", "-") + ".load.json"))
        if float(cpu_s) >= 0 and run and run.get("requests"):
            rows[cfg] = (run["rps"], float(cpu_s) * 1e6 / run["requests"], run["failures"]["total"])
    return rows


def syscalls(out):
    """config -> system calls a page, from syscalls/counts.txt ("CONFIG CALLS PAGES TOOL")."""
    rows = {}
    try:
        with open(os.path.join(out, "syscalls", "counts.txt")) as f:
            for line in f:
                cfg, calls, pages = line.split()[:3]
                if int(calls) >= 0 and int(pages) > 0:
                    rows[cfg] = int(calls) / int(pages)
    except OSError:
        pass
    return rows


def scale(out):
    """scale step model -> the step, from scripts/bench-scale.sh's scale.json."""
    doc = load(os.path.join(out, "scale", "scale.json")) or {"steps": []}
    return {s["model"]: s for s in doc["steps"]}


def ratio(value, best):
    return None if value is None or not best else value / best


def cell(value, fmt, best=None):
    if value is None:
        return "-"
    text = format(value, fmt)
    r = ratio(value, best)
    return text if r is None else f"{text} ({r:.2f}x)"


def main():
    out, models, peers, counter = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4]
    sat, sys_calls, steps = saturation(out), syscalls(out), scale(out)
    rows = []
    for kind, configs in (("model", models), ("peer", peers)):
        for cfg in configs:
            # (b) runs a server as NAME (bench-scale sizes it) or as NAME:SIZE.
            name = cfg.split(":")[0]
            step = steps.get(cfg) or steps.get(name) or next(
                (s for m, s in steps.items() if m.split(":")[0] == name), None)
            ran = step is not None and step.get("status") == "ran"
            pages, cpu, failures = sat.get(cfg, (None, None, None))
            rows.append({
                "name": cfg, "kind": kind,
                "pages_per_s": pages, "cpu_us_per_page": cpu,
                "syscalls_per_page": sys_calls.get(cfg),
                "pss_kib_per_user": step["memory_per_user_kib"] if ran else None,
                "p95_floor": step["p95_ratio"] if ran else None,
                "saturation_failures": failures,
                "scale_failures": step["failures"] if ran else None,
                "scale_users": step["users"] if step else None,
                "scale_size": step.get("size") if step else None,
                "scale_status": (step["status"] + (": " + step["reason"] if step.get("reason") else "")) if step else None,
            })
    # The best peer's figure: the most pages a second, the least of every cost.
    best = {}
    for key, pick in (("pages_per_s", max), ("cpu_us_per_page", min), ("syscalls_per_page", min),
                      ("pss_kib_per_user", min), ("p95_floor", min)):
        values = [r[key] for r in rows if r["kind"] == "peer" and r[key] is not None]
        best[key] = pick(values) if values else None
    for r in rows:
        r["ratio_to_best_peer"] = {k: ratio(r[k], best[k]) for k in best}
    with open(os.path.join(out, "peers.json"), "w") as f:
        json.dump({"syscall_counter": counter, "best_peer": best, "rows": rows}, f, indent=2)

    tool = {"perf": "perf stat raw_syscalls:sys_enter", "strace": "strace -c -f"}.get(counter, "not counted")
    users = next((r["scale_users"] for r in rows if r["scale_users"]), None)
    lines = [
        f"| server | kind | pages/s at /0/, 100 users | CPU per page (µs) | system calls per page ({tool}) "
        f"| memory per user at {users or '-'} users (KiB, PSS + kernel) | p95 / floor | failures (a / b) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        fails = f"{'-' if r['saturation_failures'] is None else r['saturation_failures']} / " \
                f"{'-' if r['scale_failures'] is None else r['scale_failures']}"
        lines.append(
            f"| {r['name']} | {r['kind']} | {cell(r['pages_per_s'], ',.0f', best['pages_per_s'])} "
            f"| {cell(r['cpu_us_per_page'], '.1f', best['cpu_us_per_page'])} "
            f"| {cell(r['syscalls_per_page'], '.1f', best['syscalls_per_page'])} "
            f"| {cell(r['pss_kib_per_user'], '.1f', best['pss_kib_per_user'])} "
            f"| {cell(r['p95_floor'], '.2f', best['p95_floor'])} | {fails} |")
    notes = ["", "(Nx): the figure as a ratio to the best peer's (pages/s: the most; the rest: the least).",
             "(b) runs each server at the size its line below gives (scripts/bench-scale.sh's for a model)."]
    notes += [f"- {r['name']} at scale: {r['scale_status']} (size {r['scale_size']})"
              for r in rows if r["scale_status"]]
    text = "\n".join(lines + notes) + "\n"
    with open(os.path.join(out, "peers.md"), "w") as f:
        f.write(text)
    print(text, end="")
    # peers.dat: name kind pages cpu syscalls memory p95 ("nan" where not measured).
    # Its first line lists the columns that hold a figure (gnuplot cannot plot a column of nan).
    keys = ("pages_per_s", "cpu_us_per_page", "syscalls_per_page", "pss_kib_per_user", "p95_floor")
    with open(os.path.join(out, "peers.dat"), "w") as f:
        cols = [str(i + 3) for i, k in enumerate(keys) if any(r[k] is not None for r in rows)]
        f.write("# columns: " + " ".join(cols) + "\n")
        f.write("# name kind " + " ".join(keys) + "\n")
        for r in rows:
            vals = [r[k] for k in keys]
            f.write(f'"{r["name"]}" {r["kind"]} ' + " ".join("nan" if v is None else f"{v:.4f}" for v in vals) + "\n")


if __name__ == "__main__":
    main()
