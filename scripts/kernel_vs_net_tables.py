#!/usr/bin/env python3
"""The README tables of the `kernel-vs-net` figure, from its JSON report.

    python3 scripts/kernel_vs_net_tables.py plots/paper/kernel-vs-net.json [OTHER.json]

Prints the mean test error (sd) per task, predictor and n; the paired differences with their 95%
intervals; and per task how the `net_stop` runs ended (stop reason: runs, final estimated G / L,
steps and insertions, the n they are at).

With OTHER.json whose `net_stop` has another lambda (same data and seeds): the paired difference of
the two `net_stop` errors per n (this report's minus OTHER's, mean and 95% Student-t interval).
With OTHER.json whose `net_stop` has the same lambda (e.g. another step size), a check of the
estimated bounds: a run's D = L - G is a lower bound on L* only if the sphere
maximum behind it is right, so D above the final L of the other run on the same (task, n, seed)
shows that the estimate missed the maximiser; printed per task with the smallest true relative
excess (L - L_other) / L that this proves.
"""
import json
import statistics
import sys
from collections import Counter


def fmt(x):
    if abs(x) < 1e-12:  # a difference of equal errors, up to rounding
        x = 0.0
    if x == 0 or abs(x) >= 0.1:
        return f"{x:.3f}" if abs(x) < 1 else f"{x:.2f}"
    if abs(x) >= 0.001:
        return f"{x:.2g}" if abs(x) < 0.01 else f"{x:.3f}"
    return f"{x:.1e}"


def sd(x):
    return f"{x:.2g}" if x < 0.01 else f"{x:.3f}"


def main(path):
    f = json.load(open(path))["findings"]
    c = f["curves"]
    tasks = [t for t in ["classification", "regression"] if t in c]
    ns = c[tasks[0]]["net_stop"]["n"]
    head = " | ".join(map(str, ns))
    rule = "|---" * (len(ns) + 1) + "|"
    print(f"| n | {head} |")
    print(rule)
    for task in tasks:
        for p in ["net_stop", "net_paper", "arccos", "ntk"]:
            cu = c[task][p]
            cells = " | ".join(f"{fmt(m)} ({sd(s)})" for m, s in zip(cu["mean"], cu["sd"]))
            print(f"| {task} `{p}` | {cells} |")
    print()
    print(f"| paired difference, mean [95% interval] | {head} |")
    print(rule)
    pairs = [
        ("net_stop_minus_arccos", "`net_stop` - `arccos`"),
        ("net_stop_minus_ntk", "`net_stop` - `ntk`"),
        ("net_paper_minus_ntk", "`net_paper` - `ntk`"),
        ("net_stop_minus_net_paper", "`net_stop` - `net_paper`"),
    ]
    pd = f["paired_differences"]
    for task in tasks:
        for key, label in pairs:
            cells = " | ".join(f"{fmt(e['mean'])} [{fmt(e['ci95'][0])}, {fmt(e['ci95'][1])}]" for e in pd[task][key])
            print(f"| {task} {label} | {cells} |")
    print()
    for task in tasks:
        runs = f["nets"][task]["net_stop"]["runs"]
        gaps = [r["run"]["relative_gap"] for r in runs]
        print(f"{task} net_stop: {len(runs)} runs, median G/L {statistics.median(gaps):.3g}, max {max(gaps):.3g}")
        for reason in ["rel_gap", "rel_change", "cap"]:
            rs = [r for r in runs if r["run"]["stop_reason"] == reason]
            if not rs:
                continue
            g = [r["run"]["relative_gap"] for r in rs]
            steps = [r["run"]["steps"] for r in rs]
            ins = [r["run"]["inserted"] for r in rs]
            at = dict(sorted(Counter(r["n"] for r in rs).items()))
            print(
                f"  {reason}: {len(rs)} runs, G/L {min(g):.2g} to {max(g):.2g}, steps {min(steps)} to {max(steps)}, "
                f"insertions {min(ins)} to {max(ins)}, runs per n {at}"
            )


def lambda_difference(f, g, tasks):
    """Per task and n, the paired difference of the two reports' net_stop errors (first minus second) over
    their common seeds: mean and 95% Student-t interval."""
    la, lb = f["params"]["net_stop"]["lambda"], g["params"]["net_stop"]["lambda"]
    for task in tasks:
        a = {r["seed"]: r["errors"] for r in f["curves"][task]["net_stop"]["per_seed"]}
        b = {r["seed"]: r["errors"] for r in g["curves"][task]["net_stop"]["per_seed"]}
        ns = f["curves"][task]["net_stop"]["n"]
        if ns != g["curves"][task]["net_stop"]["n"]:
            sys.exit("the two reports have different n")
        seeds = sorted(set(a) & set(b))
        t = {2: 12.706, 3: 4.303, 10: 2.262}.get(len(seeds))
        if t is None:
            sys.exit(f"no t quantile here for {len(seeds)} seeds")
        cells = []
        for k in range(len(ns)):
            d = [a[s][k] - b[s][k] for s in seeds]
            mean, sd = statistics.mean(d), statistics.stdev(d)
            half = t * sd / len(d) ** 0.5
            cells.append(f"{fmt(mean)} [{fmt(mean - half)}, {fmt(mean + half)}]")
        print(f"| n | {' | '.join(map(str, ns))} |")
        print("|---" * (len(ns) + 1) + "|")
        print(f"| {task} `net_stop` lambda = {la:g} minus lambda = {lb:g} | {' | '.join(cells)} |")


def cross_check(path, other):
    f, g = (json.load(open(p))["findings"] for p in (path, other))
    tasks = [t for t in ["classification", "regression"] if t in f["curves"] and t in g["curves"]]
    if f["params"]["net_stop"]["lambda"] != g["params"]["net_stop"]["lambda"]:
        return lambda_difference(f, g, tasks)
    for task in tasks:
        for name, a, b in [(path, f, g), (other, g, f)]:
            theirs = {(r["n"], r["seed"]): r["run"]["loss"] for r in b["nets"][task]["net_stop"]["runs"]}
            bad, pairs = [], 0
            for r in a["nets"][task]["net_stop"]["runs"]:
                if (r["n"], r["seed"]) not in theirs:
                    continue
                pairs += 1
                run = r["run"]
                dual = run["loss"] * (1.0 - run["relative_gap"])
                other_loss = theirs[(r["n"], r["seed"])]
                if dual > other_loss:
                    bad.append((r["n"], r["seed"], run["stop_reason"], (run["loss"] - other_loss) / run["loss"]))
            stopped = [x for x in bad if x[2] != "cap"]
            worst = max((x[3] for x in bad), default=0.0)
            print(
                f"{task} {name}: D above the other run's L in {len(bad)} of "
                f"{pairs} runs ({len(stopped)} stopped by a rule), "
                f"largest proven relative excess {worst:.2g}: {[(n, s, why) for n, s, why, _ in bad]}"
            )


if __name__ == "__main__":
    main(sys.argv[1])
    if len(sys.argv) > 2:
        print()
        cross_check(sys.argv[1], sys.argv[2])
