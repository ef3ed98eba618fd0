"""Speed of crnn at two commits, measured side by side in one run.

    python benchmarks/compare_commits.py [--base 780512c] [--new HEAD] [--rounds 8]
        [--repeats 3] [--seconds 1.0] [--rows train-small,train-big1,...] [--json PATH]

Each commit is exported (``git archive``) into ``--work-dir`` (default
/tmp/crnn-compare/<commit>) and ``pip install``-ed into a venv of its own
(kept and reused by later runs; ``--rebuild`` redoes it).  Then every row
(crnn's public API only: the rows of issue 11's speed check, see
_compare_child.py) is timed in fresh processes, alternating the commits
(round 1: old then new, round 2: new then old, ...), ``--repeats`` timed
repeats per process.  The row code is this tree's for both commits; only
the installed crnn differs.  The units per repeat are chosen once per row
(a calibration process of the new commit) and are the same for all.

A process's figure is the median of its repeats; a commit's figure the
median over rounds.  The table gives both medians, their min-max over
rounds, new/old of the medians, the median and min-max of the per-round
ratios (each new process against the old one next to it), the same ratio
of chars per CPU-second (steadier under load for 1-thread rows) and
whether new/old >= 1 - --tolerance (default 3%).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _compare_child import ROWS  # noqa: E402
from environment import REPO, SHARED_CORPUS, machine_info  # noqa: E402
from harness import fmt_rate, log, other_load_now, print_columns  # noqa: E402

DEFAULT_BASE = "780512c"  # the last commit before issue 11's refactor


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def clean_env() -> dict:
    """The environment for builds and children: no PYTHONPATH (the child must import
    its venv's crnn) and no crnn build switches from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CRNN_PLAIN_LOOPS")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def build(sha: str, work_dir: Path, rebuild: bool) -> Path:
    """A venv with crnn installed from commit sha; returns its python."""
    root = work_dir / sha[:12]
    python = root / "venv" / "bin" / "python"
    marker = root / "built"
    if not rebuild and marker.is_file() and marker.read_text().strip() == sha:
        log(f"{sha[:12]}: reusing {root}")
        return python
    if root.exists():
        shutil.rmtree(root)
    (root / "src").mkdir(parents=True)
    log(f"{sha[:12]}: exporting and building in {root} (log: {root / 'build.log'})")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", sha],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root / "src")], input=archive, check=True)
    env = clean_env()
    with open(root / "build.log", "w") as logf:
        for cmd in ([sys.executable, "-m", "venv", str(root / "venv")],
                    ["nice", str(python), "-m", "pip", "install", str(root / "src")]):
            logf.write(f"$ {' '.join(cmd)}\n")
            logf.flush()
            subprocess.run(cmd, check=True, stdout=logf, stderr=subprocess.STDOUT, env=env,
                           cwd=str(root))
    marker.write_text(sha + "\n")
    return python


def run_child(python: Path, root: Path, row: str, args, units: int) -> dict:
    cmd = [str(python), str(HERE / "_compare_child.py"), row, "--corpus", args.corpus,
           "--units", str(units), "--repeats", str(args.repeats), "--seconds", str(args.seconds),
           "--retries", str(args.retries), "--expect-under", str(root)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), cwd=str(root))
    lines = proc.stdout.strip().splitlines()
    if not lines:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    return json.loads(lines[-1])


def spread(values: list[float]) -> str:
    return f"{fmt_rate(min(values))} - {fmt_rate(max(values))}"


def summarise(row: str, old: list[dict], new: list[dict], tolerance: float) -> dict:
    """Medians per commit, ratios; old[i] and new[i] ran next to each other."""
    pairs = [(o, n) for o, n in zip(old, new) if "median" in o and "median" in n]
    out: dict = {"row": row, "group": ROWS[row][0], "impl": ROWS[row][1], "old": old, "new": new}
    if not pairs:
        out["error"] = next((d["error"] for d in old + new if "error" in d), "no figures")
        return out
    o = [p[0]["median"] for p in pairs]
    n = [p[1]["median"] for p in pairs]
    oc = [p[0]["cpu_median"] for p in pairs]
    nc = [p[1]["cpu_median"] for p in pairs]
    paired = [b / a for a, b in zip(o, n)]
    out.update(
        old_median=statistics.median(o), new_median=statistics.median(n),
        old_range=[min(o), max(o)], new_range=[min(n), max(n)],
        ratio=statistics.median(n) / statistics.median(o),
        paired_ratios=paired, paired_median=statistics.median(paired),
        cpu_ratio=statistics.median(nc) / statistics.median(oc),
        rounds=len(pairs),
        busy_repeats=sum(d.get("busy_repeats", 0) for p in pairs for d in p),
        repeats=sum(d.get("repeats", 0) for p in pairs for d in p),
    )
    out["ratio_ci95"] = bootstrap_ratio_ci(o, n)
    out["within_tolerance"] = out["ratio"] >= 1.0 - tolerance
    return out


def bootstrap_ratio_ci(old: list[float], new: list[float], draws: int = 2000) -> list[float]:
    """95% interval of median(new)/median(old), resampling the rounds (pairs kept
    together: both commits of a round shared the machine's state)."""
    rng = random.Random(0)
    k = len(old)
    ratios = []
    for _ in range(draws):
        idx = [rng.randrange(k) for _ in range(k)]
        ratios.append(statistics.median(new[i] for i in idx) / statistics.median(old[i] for i in idx))
    ratios.sort()
    return [ratios[int(0.025 * draws)], ratios[int(0.975 * draws) - 1]]


def print_summary(results: list[dict], base: str, new: str, tolerance: float) -> None:
    head = ("row", f"old {base[:9]} chars/s", "old min - max", f"new {new[:9]} chars/s",
            "new min - max", "new/old", "95% CI", "per-round new/old: median [min - max]", "CPU-s new/old",
            f"within {tolerance:.0%}")
    lines = []
    for r in results:
        name = f"{r['group']} | {r['impl']}"
        if "error" in r:
            lines.append((name, "-", "-", "-", "-", "-", "-", "-", "-", r["error"][:60]))
            continue
        busy = f" ({r['busy_repeats']}/{r['repeats']} repeats disturbed)" if r["busy_repeats"] else ""
        lines.append((name, fmt_rate(r["old_median"]), spread(r["old_range"]),
                      fmt_rate(r["new_median"]), spread(r["new_range"]), f"{r['ratio']:.3f}",
                      f"{r['ratio_ci95'][0]:.3f} - {r['ratio_ci95'][1]:.3f}",
                      f"{r['paired_median']:.3f} [{min(r['paired_ratios']):.3f} - "
                      f"{max(r['paired_ratios']):.3f}]", f"{r['cpu_ratio']:.3f}",
                      ("yes" if r["within_tolerance"] else "NO") + busy))
    print()
    print_columns(head, lines)


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="compare_commits.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default=DEFAULT_BASE, help=f"the old commit (default {DEFAULT_BASE})")
    ap.add_argument("--new", default="HEAD", help="the new commit (default HEAD of this tree)")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    ap.add_argument("--rounds", type=int, default=8, help="processes per commit and row (default 8)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per process (default 3)")
    ap.add_argument("--seconds", type=float, default=1.0, help="length of one repeat (default 1.0)")
    ap.add_argument("--retries", type=int, default=1,
                    help="re-time a repeat disturbed by other processes up to N times (default 1)")
    ap.add_argument("--tolerance", type=float, default=0.03, help="allowed slowdown (default 0.03)")
    ap.add_argument("--corpus", default=str(SHARED_CORPUS), help="training text (default %(default)s)")
    ap.add_argument("--work-dir", default="/tmp/crnn-compare", help="exports and venvs")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the venvs even if present")
    ap.add_argument("--json", default=None, help="default bench_results/compare-<time>.json")
    args = ap.parse_args(argv)
    args.rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown:
        ap.error(f"unknown rows {unknown}; rows: {', '.join(ROWS)}")
    if args.rounds < 1 or args.repeats < 1:
        ap.error("--rounds and --repeats must be >= 1")
    if not Path(args.corpus).is_file():
        ap.error(f"no corpus at {args.corpus} (give --corpus)")
    return args


def measure_rows(args, builds: dict) -> list[dict]:
    """Calibrate each row once, then the alternating rounds."""
    units = {}
    for row in args.rows:
        cal = run_child(builds["new"][0], builds["new"][1], row, args, 0)
        if "error" in cal:
            raise SystemExit(f"calibrating {row} failed: {cal['error']}")
        units[row] = cal["units"]
        log(f"{row}: {units[row]} units per repeat")
    runs: dict = {row: {"old": [], "new": []} for row in args.rows}
    for r in range(args.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        log(f"round {r + 1}/{args.rounds} ({' then '.join(order)})")
        for row in args.rows:
            for side in order:
                d = run_child(builds[side][0], builds[side][1], row, args, units[row])
                d["round"] = r + 1
                runs[row][side].append(d)
                if "error" in d:
                    log(f"  {row} {side}: {d['error']}")
    return [summarise(row, runs[row]["old"], runs[row]["new"], args.tolerance) for row in args.rows]


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.time()
    shas = {"old": git("rev-parse", "--verify", args.base + "^{commit}"),
            "new": git("rev-parse", "--verify", args.new + "^{commit}")}
    if args.new == "HEAD" and git("status", "--porcelain", "--untracked-files=no"):
        log("note: the work tree has uncommitted changes; they are not measured (HEAD is)")
    work_dir = Path(args.work_dir)
    builds = {}
    for side in ("old", "new"):
        python = build(shas[side], work_dir, args.rebuild)
        builds[side] = (python, work_dir / shas[side][:12])
    machine = machine_info()
    other = other_load_now()
    command = " ".join([os.path.basename(sys.executable)] + sys.argv)
    print(f"crnn commit comparison: {command}")
    print(f"old {shas['old'][:12]} ({git('log', '-1', '--format=%s', shas['old'])[:60]})")
    print(f"new {shas['new'][:12]} ({git('log', '-1', '--format=%s', shas['new'])[:60]})")
    print(f"machine: {machine['cpu_model']}, {machine['cpus_usable']} usable CPUs, load average "
          f"{machine['loadavg_start']}, other processes using "
          f"{'?' if other is None else f'{other:.2f}'} CPUs at the start")
    print(f"{args.rounds} rounds x 2 commits per row, a fresh process each, {args.repeats} repeats "
          f"of ~{args.seconds:g} s per process; figures are medians over rounds")

    results = measure_rows(args, builds)
    print_summary(results, shas["old"], shas["new"], args.tolerance)
    end_load = os.getloadavg()
    print(f"load average at the end: {[round(x, 2) for x in end_load]}")
    report = {
        "command": command, "argv": sys.argv, "shas": shas,
        "started_utc": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(),
        "wall_seconds": round(time.time() - started, 1),
        "machine": dict(machine, other_load_cores_start=other,
                        loadavg_end=[round(x, 2) for x in end_load]),
        "settings": {k: getattr(args, k) for k in ("rows", "rounds", "repeats", "seconds",
                                                    "retries", "tolerance", "corpus")},
        "results": results,
    }
    out = Path(args.json) if args.json else (
        REPO / "bench_results" / f"compare-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(started))}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"wrote {out} ({report['wall_seconds']} s)")
    return 0 if all(r.get("within_tolerance") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
