#!/usr/bin/env python3
"""tables.py BUGS.tsv SPEED.tsv EXPECTATIONS: the markdown tables of compare.sh.

BUGS.tsv:  id, tool, outcome (tools.sh: caught fault crash missed timeout error)
SPEED.tsv: workload, tool, repetition, seconds (or "fail" / "timeout:SECONDS")
Prints two tables and their legends: bug classes x tools (a summary by class, then
every case), and the slowdowns x tools on the workloads, as medians over the
interleaved repetitions divided by the median of glibc's malloc without any tool.
"""
import collections
import math
import statistics
import sys

TOOLS = ["poolkit-checked", "poolkit-default", "glibc", "glibc-check", "valgrind", "efence", "duma", "asan"]
HEADS = {"poolkit-checked": "poolkit checked", "poolkit-default": "poolkit default", "glibc": "glibc",
         "glibc-check": "glibc MALLOC_CHECK_=3", "valgrind": "valgrind memcheck", "efence": "electric-fence",
         "duma": "DUMA", "asan": "ASan"}
MARK = {"caught": "C", "fault": "F", "crash": "x", "missed": "-", "timeout": "T", "error": "E"}
SIZES = ("-8B", "-4K", "-256K")


def cases(expectations):
    """(id, kind) in file order, and the class of each id (the id less its size)."""
    order = []
    for line in open(expectations):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        order.append(fields[0])
    return order


def class_of(case_id):
    for suffix in SIZES:
        if case_id.endswith(suffix):
            return case_id[: -len(suffix)]
    return case_id


def row(cells):
    return "| " + " | ".join(cells) + " |"


def bug_tables(bugs_path, expectations):
    outcome = {}
    for line in open(bugs_path):
        case_id, tool, result = line.rstrip("\n").split("\t")
        outcome[(case_id, tool)] = result
    tools = [t for t in TOOLS if any(k[1] == t for k in outcome)]
    order = cases(expectations)
    classes = list(dict.fromkeys(class_of(c) for c in order))
    out = ["### Bug classes x tools (summary)", "",
           "Cases caught with a report, out of the cases in the class (one per size: 8 B, "
           "4 KiB, 256 KiB); `+nF`: n more stopped by a fault at the bad access itself, with "
           "no report (how electric-fence and DUMA report). The control class must show 0.", "",
           row(["bug class"] + [HEADS[t] for t in tools]), row(["---"] * (len(tools) + 1))]
    totals = collections.Counter()
    faults = collections.Counter()
    bug_cases = 0
    for cls in classes:
        members = [c for c in order if class_of(c) == cls]
        if not cls.startswith("clean"):
            bug_cases += len(members)
        cells = [cls]
        for t in tools:
            got = [outcome.get((c, t), "error") for c in members]
            n_caught, n_fault = got.count("caught"), got.count("fault")
            if not cls.startswith("clean"):
                totals[t] += n_caught
                faults[t] += n_fault
            cell = f"{n_caught}/{len(members)}"
            if n_fault:
                cell += f" +{n_fault}F"
            cells.append(cell)
        out.append(row(cells))
    out.append(row(["**all bugs**"] + [f"**{totals[t]}/{bug_cases}**" + (f" +{faults[t]}F" if faults[t] else "")
                                       for t in tools]))
    # Deaths with no word: inside the allocator, or later on a block handed out twice.
    crashes = {t: sum(outcome.get((c, t)) == "crash" for c in order) for t in tools}
    out.append(row(["died later, no report (x)"] + [str(crashes[t]) for t in tools]))
    out += ["", "### Bug cases x tools (every case)", "",
            "C caught with a report naming the problem; F fault (SIGSEGV) at the bad access, "
            "no report; x died later or inside the allocator, no report; - missed (ran to "
            "the end); T hung; E did not reach the bug.", "",
            row(["case"] + [HEADS[t] for t in tools]), row(["---"] + [":-:"] * len(tools))]
    for c in order:
        out.append(row([f"`{c}`"] + [MARK.get(outcome.get((c, t), "error"), "?") for t in tools]))
    return out


def speed_table(speed_path):
    times = collections.defaultdict(list)
    failed = {}
    workloads = []
    for line in open(speed_path):
        workload, tool, _rep, value = line.rstrip("\n").split("\t")
        if workload not in workloads:
            workloads.append(workload)
        if value == "fail" or value.startswith("timeout"):
            failed[(workload, tool)] = value
        else:
            times[(workload, tool)].append(float(value))
    tools = [t for t in ["glibc"] + TOOLS if any(k[1] == t for k in list(times) + list(failed))]
    tools = list(dict.fromkeys(tools))
    out = ["### Slowdowns x tools on bench/workloads", "",
           "Median wall time over interleaved repetitions, divided by the median of glibc's "
           "malloc with no tool (ASan: the workloads rebuilt with -fsanitize=address). "
           "`>Nx`: stopped at the time limit; fail: the tool could not run it. The last "
           "column is poolkit checked over poolkit default.", "",
           row(["workload", "glibc (s)"] + [HEADS[t] for t in tools if t != "glibc"] + ["checked / default"]),
           row(["---"] + ["--:"] * (len(tools) + 1))]
    logs = collections.defaultdict(list)
    for w in workloads:
        base = statistics.median(times[(w, "glibc")]) if times[(w, "glibc")] else None
        cells = [w, f"{base:.3f}" if base else "fail"]
        for t in tools:
            if t == "glibc":
                continue
            if times[(w, t)] and base:
                ratio = statistics.median(times[(w, t)]) / base
                logs[t].append(math.log(ratio))
                cells.append(f"{ratio:.2f}x")
            elif (w, t) in failed and failed[(w, t)].startswith("timeout") and base:
                cells.append(f">{float(failed[(w, t)].split(':')[1]) / base:.0f}x")
            else:
                cells.append("fail")
        pc, pd = times[(w, "poolkit-checked")], times[(w, "poolkit-default")]
        ratio = statistics.median(pc) / statistics.median(pd) if pc and pd else None
        if ratio:
            logs["checked/default"].append(math.log(ratio))
        cells.append(f"{ratio:.2f}x" if ratio else "-")
        out.append(row(cells))
    geo = ["**geometric mean**", ""]
    for t in tools:
        if t == "glibc":
            continue
        n = len(logs[t])
        # A mean over the few workloads a tool could run would flatter it.
        geo.append(f"**{math.exp(sum(logs[t]) / n):.2f}x**" if n == len(workloads) else f"- ({n} of {len(workloads)} ran)")
    n = len(logs["checked/default"])
    geo.append(f"**{math.exp(sum(logs['checked/default']) / n):.2f}x**" if n else "-")
    out.append(row(geo))
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: tables.py BUGS.tsv SPEED.tsv EXPECTATIONS (a missing file: '-')")
    bugs, speed, expectations = sys.argv[1:]
    lines = []
    if bugs != "-":
        lines += bug_tables(bugs, expectations) + [""]
    if speed != "-":
        lines += speed_table(speed) + [""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
