#!/usr/bin/env python3
"""bench/workloads/report.py RESULTS.tsv OUT.md: turns run.sh's raw results (one row
per run: workload, allocator, repetition, seconds, peak RSS KiB, checksum, status)
into the markdown report: median time and peak RSS per allocator, their ratios to
mimalloc, and the geometric means of those ratios. Exits 1 when a run failed or
the allocators disagree on a workload's checksum."""
import argparse
import datetime
import math
import os
import platform
import statistics
from collections import OrderedDict, defaultdict

ORDER = ["glibc", "jemalloc", "tcmalloc", "mimalloc", "poolkit", "poolkit-checked", "poolkit-checked-nostack"]
BASE = "mimalloc"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("out")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--reps", default="?")
    ap.add_argument("--seconds", default="?")
    ap.add_argument("--poolkit", default="none")
    ap.add_argument("--base", default=BASE, help="the allocator the ratios are to")
    a = ap.parse_args()

    times, rss, sums = defaultdict(list), defaultdict(list), defaultdict(set)
    failures = []
    workloads = OrderedDict()
    allocators = set()
    with open(a.results) as f:
        for line in f:
            name, alloc, rep, sec, kib, checksum, status = line.rstrip("\n").split("\t")
            workloads[name] = True
            allocators.add(alloc)
            if status != "ok":
                failures.append(f"{name} under {alloc} (repetition {rep})")
                continue
            times[name, alloc].append(float(sec))
            rss[name, alloc].append(int(kib) / 1024.0)
            sums[name].add(checksum)
    allocs = [x for x in ORDER if x in allocators]
    mismatched = [w for w in workloads if len(sums[w]) > 1]

    def median(d, w, x):
        return statistics.median(d[w, x]) if d[w, x] else None

    def table(d, unit, fmt):
        head = "| workload | " + " | ".join(allocs) + " |"
        rows = [head, "|" + " --- |" * (len(allocs) + 1)]
        logs = defaultdict(list)
        for w in workloads:
            base = median(d, w, a.base)
            cells = []
            for x in allocs:
                m = median(d, w, x)
                if m is None:
                    cells.append("failed")
                    continue
                cell = fmt.format(m) + unit
                if base:
                    ratio = max(m, 1e-3) / max(base, 1e-3)
                    logs[x].append(math.log(ratio))
                    cell += f" ({ratio:.2f})"
                cells.append(cell)
            rows.append(f"| {w} | " + " | ".join(cells) + " |")
        geo = [f"**{math.exp(sum(logs[x]) / len(logs[x])):.2f}**" if logs[x] else "-" for x in allocs]
        rows.append("| geometric mean of ratios | " + " | ".join(geo) + " |")
        return "\n".join(rows)

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = [
        "# Workload suite: poolkit against glibc, jemalloc, tcmalloc and mimalloc",
        "",
        f"Written by `bench/workloads/run.sh{' --quick' if a.mode == 'quick' else ''}` on {now}: "
        f"{a.mode} sizes, {a.reps} repetitions interleaved across allocators, {a.seconds} s in all, "
        f"on {os.cpu_count()} CPUs ({cpu}), {platform.platform()}. poolkit: `{a.poolkit}`.",
        "",
        f"Each cell is the median over the repetitions; in brackets its ratio to {a.base} "
        f"(below 1 is better than {a.base}). docs/workloads.md says what each workload stresses.",
        "",
        "## Wall time",
        "",
        table(times, " s", "{:.3f}"),
        "",
        "## Peak RSS",
        "",
        table(rss, " MiB", "{:.1f}"),
        "",
    ]
    if failures or mismatched:
        md += ["## Problems", ""]
        md += [f"- failed: {x}" for x in failures]
        md += [f"- checksums differ between allocators on {w}: {sorted(sums[w])}" for w in mismatched]
    else:
        md += ["Every run succeeded and every allocator printed the same checksum for each workload."]
    with open(a.out, "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    return 1 if failures or mismatched else 0


if __name__ == "__main__":
    raise SystemExit(main())
