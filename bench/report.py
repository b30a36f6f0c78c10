#!/usr/bin/env python3
"""bench/report.py: turns poolkit_bench's Google Benchmark JSON files into report/.

Usage: report.py --out report/ [--settings TEXT] RUN.json...

Each JSON file is one run of poolkit_bench; its context says which malloc the process
had (malloc=glibc, jemalloc, ... from --benchmark_context, checked against the library
that really defined malloc). Every repetition of every run is one sample of
nanoseconds per operation (1e9 / items_per_second). The report gives, per pattern and
contender, the median and the spread (min..max), the ratio of each contender's median to
poolkit's (the first poolkit pool listed for that pattern in bench/main.cpp), a bar
chart per pattern (gnuplot, SVG) and the verdict on DESIGN.md's targets. The tail_<pattern>
runs (bench/latency.hpp) give, under their pattern, the 99th and 99.9th percentile and the
maximum of the time of one call; they never enter the medians.
Writes report/README.md (Markdown) and report/<pattern>.svg; prints the tables.
Python standard library only, plus gnuplot when it is installed.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from collections import OrderedDict, defaultdict
from datetime import datetime, timezone

# What each pattern measures, shown under its table (keep in step with bench/patterns.hpp).
PATTERNS = OrderedDict([
    ("pair32", "allocate 32 B, write it, free it: one LIFO pair per operation"),
    ("bulk32_random", "allocate 4096 blocks of 32 B, then free them in a random order; one operation = one block"),
    ("list", "std::list<int>: 1000 push_back, erase every other node, 500 push_front, destroy; one operation = one node"),
    ("map", "std::map<int,int>: 1000 inserts of shuffled keys, 1000 erases in another order; one operation = insert + erase"),
    ("reset_small", "1000 allocations of 8..128 B, then free all at once (release / unwind); one operation = one allocation"),
    ("mixed_16B_64KiB", "1000 live blocks of 16 B..64 KiB (log-uniform); free a random one, allocate a new one; one operation = free + allocate"),
    ("threads2_pair32", "2 threads share the allocator, each allocating 64 x 32 B and freeing them; ns = wall time / all pairs of both threads"),
    ("threads2_batch32", "2 threads share the allocator, each allocating 1000 x 32 B, then freeing them oldest first; ns = wall time / all blocks of both threads"),
    ("threads2_prodcons32", "thread 0 allocates 32 B blocks and hands them to thread 1 (a ring, 64 at a time), which frees them; ns = CPU time of both threads / blocks"),
    ("threads8_batch32", "threads2_batch32 with 8 threads on this machine's cores (oversubscribed); ns = wall time / all blocks of all threads"),
    # bench/heap_coalescing.cpp (Heap's own comparison of its coalescing modes)
    ("heap_churn", "Heap coalescing: 1000 live blocks of 16 B..64 KiB, one random block replaced per operation"),
    ("heap_bursts", "Heap coalescing: the same 64 blocks of 16 B..4 KiB allocated then freed newest first; one operation = one block"),
])

# Debian packages whose versions the report states (the peers and the toolchain).
PACKAGES = ["g++-12", "libstdc++6", "libc6", "libbenchmark-dev", "libboost-dev",
            "libfoonathan-memory-dev", "libjemalloc2", "libtcmalloc-minimal4", "libmimalloc2.0",
            "gnuplot-nox"]

# What a malloc=NAME run must have loaded, to catch an LD_PRELOAD that did not take.
MALLOC_LIBRARY = {"glibc": "libc.so", "jemalloc": "libjemalloc", "tcmalloc": "libtcmalloc",
                  "mimalloc": "libmimalloc", "poolkit": "poolkit"}


TAIL_PREFIX = "tail_"  # bench/main.cpp's tail-latency runs: tail_<pattern>/<contender>


def load_samples(paths, tails=None):
    """-> (samples[(pattern, contender)] = [ns/op...], meta[(pattern, contender)], contexts, warnings)
    With a dict `tails`, also fills tails[(pattern, contender)] = [{p99_ns, p999_ns, max_ns}...]
    from the tail_* runs (one entry per repetition), which never enter the samples."""
    samples = defaultdict(list)
    meta = {}
    contexts = []
    warnings = []
    for path in paths:
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            warnings.append(f"{os.path.basename(path)}: unreadable ({e}); left out")
            continue
        ctx = doc.get("context", {})
        contexts.append(ctx)
        malloc = ctx.get("malloc", "glibc")
        library = ctx.get("malloc_library", "")
        expected = MALLOC_LIBRARY.get(malloc)
        if expected and expected not in os.path.basename(library):
            warnings.append(f"{os.path.basename(path)}: asked for malloc={malloc} but malloc came from "
                            f"{library}; its malloc rows are left out")
            continue
        for b in doc.get("benchmarks", []):
            if b.get("run_type") != "iteration":
                continue
            parts = b["name"].split("/")
            pattern, contender = parts[0], parts[1]
            if b.get("error_occurred"):
                warnings.append(f"{pattern}/{contender}: {b.get('error_message', 'error')}")
                continue
            poolkit = b.get("label") == "poolkit"
            if contender == "malloc":
                if malloc == "poolkit":
                    contender, poolkit = "poolkit malloc", True
                else:
                    contender = f"malloc[{malloc}]"
            elif malloc != "glibc":
                continue  # preloaded runs only speak for malloc
            if pattern.startswith(TAIL_PREFIX):
                if tails is not None and "p99_ns" in b:
                    key = (pattern[len(TAIL_PREFIX):], contender)
                    tails.setdefault(key, {"poolkit": poolkit, "runs": []})["runs"].append(
                        {k: b[k] for k in ("p99_ns", "p999_ns", "max_ns")})
                continue
            rate = b.get("items_per_second")
            if not rate:
                continue
            samples[(pattern, contender)].append(1e9 / rate)
            # Registration order, except that the malloc rows (whose family_index differs
            # in the filtered preloaded runs) go last, in the order of MALLOC_LIBRARY.
            order = (b.get("family_index", 0) if contender != "malloc" and not contender.startswith(("malloc[", "poolkit malloc"))
                     else 10**6 + list(MALLOC_LIBRARY).index(malloc) if malloc in MALLOC_LIBRARY else 10**7)
            meta[(pattern, contender)] = {"poolkit": poolkit, "order": order,
                                          "malloc_row": contender.startswith("malloc[") or contender == "poolkit malloc"}
    return samples, meta, contexts, warnings


def summarize(samples, meta):
    """-> {pattern: [row...]} with rows sorted fastest first, and the reference per pattern."""
    by_pattern = defaultdict(list)
    for (pattern, contender), values in samples.items():
        by_pattern[pattern].append({
            "contender": contender, "median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values), **meta[(pattern, contender)]})
    tables = OrderedDict()
    names = list(PATTERNS) + sorted(p for p in by_pattern if p not in PATTERNS)
    for pattern in names:
        rows = by_pattern.get(pattern)
        if not rows:
            continue
        # The reference: the first poolkit pool registered for the pattern, else poolkit's malloc.
        pools = sorted((r for r in rows if r["poolkit"] and not r["malloc_row"]), key=lambda r: r["order"])
        others = [r for r in rows if r["poolkit"] and r["malloc_row"]]
        ref = pools[0] if pools else (others[0] if others else None)
        for r in rows:
            r["ratio"] = r["median"] / ref["median"] if ref else None
        rows.sort(key=lambda r: r["median"])
        tables[pattern] = {"rows": rows, "ref": ref}
    return tables


def fmt_ns(x):
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def markdown_table(pattern, table):
    ref = table["ref"]
    ref_name = ref["contender"] if ref else "poolkit (not landed)"
    lines = [f"| contender | ns/op median | min | max | n | × {ref_name} |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in table["rows"]:
        name = f"**{r['contender']}**" if r["poolkit"] else r["contender"]
        ratio = "—" if r["ratio"] is None else ("1 (reference)" if r is ref else f"{r['ratio']:.2f}")
        lines.append(f"| {name} | {fmt_ns(r['median'])} | {fmt_ns(r['min'])} | {fmt_ns(r['max'])} | {r['n']} | {ratio} |")
    return "\n".join(lines)


def tail_table(pattern, tails):
    """The tail-latency table of one pattern: per contender, the median over repetitions
    of the 99th and 99.9th percentile of the time per call, and the largest maximum;
    rows by their 99.9th percentile. None when no tail run covered the pattern."""
    rows = []
    for (p, contender), t in tails.items():
        if p != pattern:
            continue
        runs = t["runs"]
        rows.append((statistics.median(r["p999_ns"] for r in runs), contender, t["poolkit"],
                     statistics.median(r["p99_ns"] for r in runs), max(r["max_ns"] for r in runs), len(runs)))
    if not rows:
        return None
    rows.sort()
    lines = ["| contender | p99 ns/call | p99.9 ns/call | max ns/call | n |", "|---|---:|---:|---:|---:|"]
    for p999, contender, poolkit, p99, worst, n in rows:
        name = f"**{contender}**" if poolkit else contender
        lines.append(f"| {name} | {fmt_ns(p99)} | {fmt_ns(p999)} | {fmt_ns(worst)} | {n} |")
    return "\n".join(lines)


def ratio_matrix(tables):
    """Every contender against each pattern's poolkit reference, at a glance: one row
    per contender, one column per pattern, each cell its median / the reference's."""
    patterns = [p for p, t in tables.items() if t["ref"]]
    names = []
    for p in patterns:
        for r in sorted(tables[p]["rows"], key=lambda r: (not r["poolkit"], r["order"], r["contender"])):
            if r["contender"] not in names:
                names.append(r["contender"])
    poolkit = {r["contender"] for p in patterns for r in tables[p]["rows"] if r["poolkit"]}
    names.sort(key=lambda n: n not in poolkit)  # stable: poolkit's rows first
    lines = ["| contender | " + " | ".join(patterns) + " |", "|---|" + "---:|" * len(patterns),
             "| *poolkit reference (ns/op)* | " + " | ".join(
                 f"{tables[p]['ref']['contender'].removeprefix('poolkit::')} {fmt_ns(tables[p]['ref']['median'])}"
                 for p in patterns) + " |"]
    for name in names:
        cells = []
        for p in patterns:
            r = find(tables[p], name)
            cells.append("" if r is None else ("ref" if r is tables[p]["ref"] else f"{r['ratio']:.2f}"))
        if any(c not in ("", "ref") for c in cells):
            label = f"**{name}**" if name in poolkit else name
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def find(table, name):
    for r in table["rows"] if table else []:
        if r["contender"] == name:
            return r
    return None


def overlap(a, b):
    return a["min"] <= b["max"] and b["min"] <= a["max"]


def targets(tables):
    """DESIGN.md's performance targets, each as one line of verdict."""
    out = []

    def verdict(label, ours, theirs, need=1.0):
        if ours is None:
            out.append(f"- {label}: not measured (pool not on this branch yet)")
            return
        if theirs is None:
            out.append(f"- {label}: no peer measured")
            return
        speedup = theirs["median"] / ours["median"]
        spread = " (spreads overlap: within this machine's noise)" if overlap(ours, theirs) else ""
        if speedup >= need:
            out.append(f"- {label}: **met**: {ours['contender']} {fmt_ns(ours['median'])} ns vs "
                       f"{theirs['contender']} {fmt_ns(theirs['median'])} ns, {speedup:.2f}× faster{spread}")
        else:
            behind = ours["median"] / theirs["median"] - 1
            out.append(f"- {label}: **not met**: {ours['contender']} {fmt_ns(ours['median'])} ns vs "
                       f"{theirs['contender']} {fmt_ns(theirs['median'])} ns: "
                       + (f"{behind * 100:.0f}% slower" if speedup < 1 else f"only {speedup:.2f}× faster (target {need}×)")
                       + f"{spread}; see docs/benchmarks.md, 'Where poolkit is behind'")

    pair = tables.get("pair32")
    peers = [r for r in (pair["rows"] if pair else []) if not r["poolkit"]]
    verdict("FixedPool alloc+free 32 B at or below the fastest peer", find(pair, "poolkit::FixedPool"),
            min(peers, key=lambda r: r["median"]) if peers else None)
    reset = tables.get("reset_small")
    verdict("Arena at or below pmr::monotonic_buffer_resource (both growing from the system)",
            find(reset, "poolkit::Arena"), find(reset, "pmr::monotonic[upstream]"))
    verdict("Arena at or below pmr::monotonic_buffer_resource (both in a caller's buffer)",
            find(reset, "poolkit::Arena[buffer]"), find(reset, "pmr::monotonic[buffer]"))
    mixed = tables.get("mixed_16B_64KiB")
    verdict("Heap well ahead of glibc malloc on mixed sizes (taken as at least 1.5× faster)",
            find(mixed, "poolkit::Heap"), find(mixed, "malloc[glibc]"), need=1.5)
    for name in ("threads2_pair32", "threads2_batch32", "threads2_prodcons32"):
        table = tables.get(name)
        mallocs = [r for r in (table["rows"] if table else []) if r["malloc_row"]]  # the five, poolkit's too
        verdict(f"PerCpu<FixedPool> at or below the fastest malloc on {name}",
                find(table, "poolkit::PerCpu<FixedPool>"),
                min(mallocs, key=lambda r: r["median"]) if mallocs else None)
    return out


def shell(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine(contexts):
    ctx = contexts[0] if contexts else {}
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    caches = ", ".join(f"L{c['level']} {c['type'][0]} {c['size'] // 1024} KiB" for c in ctx.get("caches", []))
    loads = sorted({tuple(round(x, 2) for x in c.get("load_avg", [])) for c in contexts})
    versions = []
    for pkg in PACKAGES:
        v = shell(["dpkg-query", "-W", "-f=${Version}", pkg])
        versions.append(f"{pkg} {v or '(not installed)'}")
    commit = shell(["git", "describe", "--always", "--dirty"])
    return [
        f"- **Machine**: {cpu}, {ctx.get('num_cpus', os.cpu_count())} cores at {ctx.get('mhz_per_cpu', '?')} MHz, {mem} RAM; {caches}",
        f"- **OS**: {platform.system()} {platform.release()} ({shell(['sh', '-c', '. /etc/os-release; echo $PRETTY_NAME'])})",
        f"- **Load average** when each run started (1, 5, 15 min): {'; '.join(str(list(l)) for l in loads[:6])}",
        f"- **Compiler**: {ctx.get('compiler', '?')}, flags `{ctx.get('cxx_flags', '?')}` ({ctx.get('build_type', '?')}); Google Benchmark library built as {ctx.get('library_build_type', '?')} (affects only the harness)",
        f"- **Versions**: {', '.join(versions)}",
        f"- **poolkit**: commit {commit or '?'}",
    ]


def chart(pattern, table, out_dir, fmt="svg"):
    """One horizontal bar chart per pattern: median bars, min..max whiskers; log scale
    when the slowest is over 20× the fastest. Returns the file name or None."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return None
    rows = list(reversed(table["rows"]))  # fastest at the top
    data_path = os.path.join(out_dir, f".{pattern}.dat")
    with open(data_path, "w") as f:
        for i, r in enumerate(rows):
            name = r["contender"].replace('"', "'")
            text = fmt_ns(r["median"]).replace(",", "")
            if r["ratio"] is not None and r is not table["ref"]:
                text += f"  ({r['ratio']:.2f}x {table['ref']['contender'].removeprefix('poolkit::')})"
            f.write(f'{i} {r["median"]} {r["min"]} {r["max"]} {1 if r["poolkit"] else 0} "{name}" "{text}"\n')
    lo = min(r["min"] for r in rows)
    hi = max(r["max"] for r in rows)
    log = hi / max(lo, 1e-9) > 20
    base = lo / 2 if log else 0
    svg = f"{pattern}.{fmt}"
    height = 120 + 28 * len(rows)
    terminal = (f'svg size 900,{height} dynamic font "sans,12" background rgb "white"' if fmt == "svg"
                else f'pngcairo size 900,{height} font "sans,10" background rgb "white"')
    script = f"""
set terminal {terminal}
set output "{os.path.join(out_dir, svg)}"
set title "{pattern}: ns per operation, median with min..max (shorter is faster)"
set termoption noenhanced
set style fill solid 0.85 border -1
set key off
set grid xtics
set ytics nomirror
set yrange [-0.6:{len(rows) - 0.4}]
set xrange [{base}:{hi * 5 if log else hi * 1.45}]
{"set logscale x" if log else ""}
set xlabel "ns per operation{' (log scale)' if log else ''}"
set lmargin 30
plot "{data_path}" using ({base}):1:({base}):2:($1-0.35):($1+0.35):($5 > 0 ? 0x1f77b4 : 0xb0b0b0):ytic(6) with boxxyerror lc rgb variable, \\
     "" using 2:1:3:4 with xerrorbars lc rgb "black" pt 0, \\
     "" using 4:1:7 with labels left offset 0.8,0 font ",9"
"""
    proc = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
    os.remove(data_path)
    if proc.returncode != 0:
        print(f"report.py: gnuplot failed for {pattern}: {proc.stderr.strip()}", file=sys.stderr)
        return None
    return svg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="report")
    ap.add_argument("--settings", default="", help="how the runs were made, one line for the report")
    ap.add_argument("--format", choices=["svg", "png"], default="svg", help="chart format")
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    tails = {}
    samples, meta, contexts, warnings = load_samples(args.runs, tails)
    tables = summarize(samples, meta)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    md = [f"# poolkit benchmark report ({now})", ""]
    md += ["Nanoseconds per operation (lower is faster): the median over every repetition of every run, "
           "with the fastest (min) and slowest (max) repetition beside it. The last column divides each "
           "median by poolkit's (the pool named in its header): above 1, poolkit is faster by that factor; "
           "below 1, the peer is. Rows run fastest first; **bold** rows are poolkit's.", ""]
    md += machine(contexts)
    if args.settings:
        md.append(f"- **Runs**: {args.settings}")
    md.append("")
    if warnings:
        md += ["## Warnings", ""] + [f"- {w}" for w in sorted(set(warnings))] + [""]
    md += ["## Targets (DESIGN.md)", ""] + targets(tables) + [""]
    md += ["## At a glance", "",
           "Each cell: the contender's median divided by the poolkit reference of that pattern "
           "(first row). Above 1: poolkit's reference is faster by that factor; below 1: the contender is.", "",
           ratio_matrix(tables), ""]
    terminal = []
    for pattern, table in tables.items():
        md += [f"## {pattern}", "", PATTERNS.get(pattern, ""), ""]
        svg = chart(pattern, table, args.out, args.format)
        if svg:
            md += [f"![{pattern}]({svg})", ""]
        t = markdown_table(pattern, table)
        md += [t, ""]
        terminal += [f"== {pattern}: {PATTERNS.get(pattern, '')}", t, ""]
        tail = tail_table(pattern, tails)
        if tail:
            md += ["Tail latency: the time of each single call (allocate, free or reset), from the cycle "
                   "counter in a separate run; the 99th and 99.9th percentile (median over repetitions) and "
                   "the largest (over all). Measured on a shared machine: the maximum includes interrupts and "
                   "preemption ([docs/benchmarks.md](../docs/benchmarks.md#tail-latency)).", "", tail, ""]
            terminal += [f"== {pattern}: tail latency per call", tail, ""]
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(terminal))
    print("Targets:\n" + "\n".join(targets(tables)))
    for w in sorted(set(warnings)):
        print(f"warning: {w}", file=sys.stderr)
    print(f"\nreport: {os.path.join(args.out, 'README.md')} and {len(tables)} charts")


if __name__ == "__main__":
    main()
