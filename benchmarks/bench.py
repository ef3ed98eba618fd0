"""crnn's benchmark suite: training speed, sampling speed, training peak memory.

    python benchmarks/bench.py train   [--quick] [--repeats N] [--json PATH] ...
    python benchmarks/bench.py sample  [...]
    python benchmarks/bench.py memory  [...]
    python benchmarks/bench.py all     [...]

(``bench_train.py`` = ``bench.py train``, ``bench_sample.py`` = ``bench.py sample``.)

Every speed figure is characters per second (training: B*T*iterations per
second).  Each row is timed ``--repeats`` times (default 5); the table gives
the median and the min-max, and the ratio of the median to the group's
reference row measured in the same run.  Repeats are interleaved across the
rows of a block (repeat 1 of every row, then repeat 2, ...) so that load from
other processes on a shared machine hits all rows alike and the ratios stay
meaningful even when the absolute figures drift.

crnn is measured through its public Python API (``CharRNN.train`` on a
pre-encoded id array, ``CharRNN.sample``) and, as separate rows, through the
raw kernels (``crnn._kernels.train_step`` / ``sample`` in a tight loop), so
the Python layer's overhead is visible.  The baselines are in baselines.py.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from environment import REPO, Context, machine_info  # noqa: E402
from harness import (N_CPUS, Case, busy_warning, calibrate, fmt_rate, loadavg, log,  # noqa: E402
                     measure, other_load_now, print_table, results_with_ratios)
from memory_rows import MEM_DESCRIPTIONS, print_memory, run_memory  # noqa: E402
from sample_rows import G_SAMPLE_BIG, G_SAMPLE_SMALL, sample_cases  # noqa: E402
from train_rows import (G_TRAIN_BIG_1, G_TRAIN_BIG_2, G_TRAIN_SMALL, LR_BIG,  # noqa: E402
                        LR_SMALL, train_cases)

RESULTS_DIR = REPO / "bench_results"


# --------------------------------------------------------------------------
# targets (issue 5)
# --------------------------------------------------------------------------


def _find(rows, group, key):
    for r in rows:
        if r.get("group") == group and r.get("key") == key and "median" in r:
            return r
    return None


def evaluate_targets(rows: list[dict], mem_rows: list[dict]) -> list[dict]:
    out = []

    def add(name, ok, figure):
        out.append({"target": name, "met": ok, "figure": figure})

    c = _find(rows, G_TRAIN_SMALL, "crnn")
    m = _find(rows, G_TRAIN_SMALL, "minchar")
    if c:
        add("train f64 H=100 B=1: >= 300,000 chars/s", c["median"] >= 300_000,
            f"{fmt_rate(c['median'])} chars/s")
        if m:
            add("train f64 H=100 B=1: >= 23x min-char-rnn numpy", c["median"] >= 23 * m["median"],
                f"{c['median'] / m['median']:.1f}x")
    for n, g in ((1, G_TRAIN_BIG_1), (2, G_TRAIN_BIG_2)):
        c, t = _find(rows, g, f"crnn{n}"), _find(rows, g, f"torch{n}")
        if c and t:
            add(f"train f32 H=512 B=32 {n} thread(s): >= 2x torch", c["median"] >= 2 * t["median"],
                f"{c['median'] / t['median']:.2f}x ({fmt_rate(c['median'])} vs {fmt_rate(t['median'])})")
    c1, c2 = _find(rows, G_TRAIN_BIG_1, "crnn1"), _find(rows, G_TRAIN_BIG_2, "crnn2")
    if c1 and c2:
        add("train f32 H=512 B=32: 2 threads >= 1.6x crnn 1 thread", c2["median"] >= 1.6 * c1["median"],
            f"{c2['median'] / c1['median']:.2f}x")
    for g, goal in ((G_SAMPLE_SMALL, 500_000), (G_SAMPLE_BIG, 70_000)):
        c = _find(rows, g, "crnn")
        if c:
            add(f"{g}: >= {goal:,} chars/s", c["median"] >= goal, f"{fmt_rate(c['median'])} chars/s")
    for r in mem_rows:
        if r["text_bytes"] < 50e6:  # the interpreter's own ~40 MB would dominate
            continue
        if r["impl"].startswith("crnn") and "peak_over_text" in r:
            add(f"peak memory ({MEM_DESCRIPTIONS[r['impl']]}): < 3x text",
                r["peak_over_text"] < 3, f"{r['peak_over_text']:.2f}x")
    return out


def print_targets(targets: list[dict], mem_rows: list[dict]) -> None:
    if not targets and not mem_rows:
        return
    print()
    print("== issue 5 targets ==")
    if mem_rows and mem_rows[0]["text_bytes"] < 50e6:
        print("  (memory targets not judged: the text is under 50 MB, use --mem-mb 100)")
    for t in targets:
        print(f"  [{'met' if t['met'] else 'MISSED':>6}] {t['target']}: {t['figure']}")


# --------------------------------------------------------------------------
# profile: one row alone
# --------------------------------------------------------------------------


GROUP_IDS = {
    "train-small": G_TRAIN_SMALL,
    "train-big1": G_TRAIN_BIG_1,
    "train-big2": G_TRAIN_BIG_2,
    "sample-small": G_SAMPLE_SMALL,
    "sample-big": G_SAMPLE_BIG,
}


def all_cases(ctx) -> list[Case]:
    return [c for block in train_cases(ctx) + sample_cases(ctx) for c in block]


def run_profile(ctx, row: Optional[str], seconds: float) -> int:
    """Run one row alone for `seconds` (a target for perf stat / perf record)."""
    cases = all_cases(ctx)
    names = {f"{gid}:{c.key}": c for gid, g in GROUP_IDS.items() for c in cases if c.group == g}
    if row not in names:
        print("rows: " + ", ".join(names))
        return 0 if row is None else 2
    c = names[row]
    runner = c.make()
    n = calibrate(runner, 0.2)
    chars, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        chars += runner.run(n)
    dt = time.perf_counter() - t0
    print(f"{c.group} | {c.impl}: {fmt_rate(chars / dt)} chars/s over {dt:.1f} s")
    return 0


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suite", choices=("train", "sample", "memory", "all", "profile"),
                    help="profile: run one row alone for --seconds (default 10), e.g. under "
                         "`perf stat`; `profile` without a row lists the rows")
    ap.add_argument("row", nargs="?", default=None, help="profile only: the row, e.g. train-small:kernel")
    ap.add_argument("--quick", action="store_true",
                    help="~30 s smoke run: 3 repeats of ~0.1 s, a 5 MB memory text")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats per row; the median is reported (default 5, --quick 3)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="approximate duration of one repeat (default 0.5, --quick 0.1)")
    ap.add_argument("--json", metavar="PATH", default=None,
                    help="where to write the JSON results (default bench_results/<suite>-<time>.json)")
    ap.add_argument("--retries", type=int, default=None,
                    help="re-time a repeat disturbed by other processes up to N times "
                         "(default 3, --quick 0)")
    ap.add_argument("--only-baselines", action="store_true", help="do not measure crnn")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch baselines")
    ap.add_argument("--no-memory", action="store_true",
                    help="train/all: skip the peak-memory measurement")
    ap.add_argument("--mem-mb", type=float, default=None,
                    help="size of the peak-memory text in MB (default 100, --quick 5)")
    ap.add_argument("--mem-iterations", type=int, default=None,
                    help="training iterations timed in the memory run (default 2000, --quick 100)")
    ap.add_argument("--corpus", metavar="PATH", default=None,
                    help="training text (default ../shared/data/tinyshakespeare.txt, else the "
                         "crnn built-in corpus)")
    args = ap.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    if args.row is not None and args.suite != "profile":
        ap.error("a row name is only for the profile subcommand")
    if args.retries is None:
        args.retries = 0 if args.quick else 3
    if args.seconds is None:
        args.seconds = 10.0 if args.suite == "profile" else 0.1 if args.quick else 0.5
    if args.mem_mb is None:
        args.mem_mb = 5 if args.quick else 100
    if args.mem_iterations is None:
        args.mem_iterations = 100 if args.quick else 2000
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.time()
    ctx = Context(args)
    try:
        if args.suite == "profile":
            return run_profile(ctx, args.row, args.seconds)
        return run(args, ctx, started)
    finally:
        ctx.cleanup()


def print_header(args, ctx: Context, machine: dict, command: str) -> None:
    print(f"crnn benchmarks: {command}")
    print(f"machine: {machine['cpu_model']}, {machine['cpus_usable']} usable CPUs, "
          f"load average {machine['loadavg_start']}")
    print(f"python {machine['python']}, numpy {machine['numpy']}, torch "
          f"{machine['torch'] if ctx.use_torch else 'not used'}"
          f"{'' if ctx.blas.setters else ' (BLAS thread count not controllable!)'}")
    print(f"corpus: {ctx.corpus_info['source']}, {ctx.corpus_info['chars']:,} chars, "
          f"vocabulary {ctx.V}")
    cd = ctx.crnn.describe()
    print(f"crnn: {'API + kernels' if cd['imported'] else 'not measured'}"
          f"{' (' + cd['location'] + ')' if cd['imported'] else ''}"
          f"{', kernel path ' + str(cd['cpu_path']) if 'cpu_path' in cd else ''}")
    for note in ctx.crnn.notes:
        print(f"  note: {note}")


def measure_suites(args, ctx: Context) -> tuple[list[dict], list[dict]]:
    """The speed rows and the memory rows the suite asks for."""
    rows: list[dict] = []
    mem_rows: list[dict] = []
    if args.suite in ("train", "all"):
        for block in train_cases(ctx):
            log(f"measuring: {', '.join(sorted(set(c.group for c in block)))}")
            rows += results_with_ratios(measure(block, args.repeats, args.seconds, args.retries))
    if args.suite in ("sample", "all"):
        for block in sample_cases(ctx):
            log(f"measuring: {block[0].group}")
            rows += results_with_ratios(measure(block, args.repeats, args.seconds, args.retries))
    if args.suite == "memory" or (args.suite in ("train", "all") and not args.no_memory):
        log("measuring: peak memory")
        mem_rows = run_memory(ctx)
    return rows, mem_rows


def run(args, ctx: Context, started: float) -> int:
    machine = machine_info()
    command = " ".join([os.path.basename(sys.executable)] + sys.argv)
    print_header(args, ctx, machine, command)
    other = other_load_now()
    machine["other_load_cores_start"] = None if other is None else round(other, 2)
    if other is not None:
        print(f"other processes are using {other:.2f} of {N_CPUS} CPUs (measured over 1 s)")
    print(f"repeats {args.repeats}, ~{args.seconds:g} s each; median, min-max over repeats; "
          f"ratio = median / the group's reference row, same run")

    rows, mem_rows = measure_suites(args, ctx)
    if rows:
        print_table(f"{args.suite} speed (chars/s)", rows)
    print_memory(mem_rows)
    targets = evaluate_targets(rows, mem_rows)
    print_targets(targets, mem_rows)

    machine["loadavg_end"] = loadavg()
    busy = busy_warning(other, rows)
    if busy:
        print(busy)
    report = {
        "busy_warning": busy,
        "suite": args.suite,
        "command": command,
        "argv": sys.argv,
        "started_utc": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(),
        "wall_seconds": round(time.time() - started, 1),
        "machine": machine,
        "blas_thread_control": ctx.blas.libs,
        "corpus": ctx.corpus_info,
        "crnn": ctx.crnn.describe(),
        "settings": {"repeats": args.repeats, "seconds_per_repeat": args.seconds,
                     "quick": args.quick, "learning_rate": LR_SMALL,
                     "learning_rate_batched": LR_BIG,
                     "mem_mb": args.mem_mb, "mem_iterations": args.mem_iterations},
        "results": rows,
        "memory": mem_rows,
        "targets": targets,
    }
    out = write_report(report, args.json, f"{args.suite}{'-quick' if args.quick else ''}", started)
    print()
    print(f"wrote {out} ({report['wall_seconds']} s)")
    return 0


def write_report(report: dict, path: Optional[str], name: str, started: float) -> Path:
    """Write the JSON report to path, or to bench_results/<name>-<time>.json."""
    if path:
        out = Path(path)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
        out = RESULTS_DIR / f"{name}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return out


if __name__ == "__main__":
    sys.exit(main())
