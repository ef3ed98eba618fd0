"""The timing harness of the benchmark suite: rows, calibration, interleaved
repeats, the load of other processes, medians and the speed table.

A row is a :class:`Case`: a name, a group, and ``make()``, which builds a
*runner*.  A runner has ``unit`` ("iteration" or "char") and ``run(n) ->
characters processed``; a runner with ``remote = True`` did its timing in
another process and leaves ``(chars, wall, cpu)`` in ``last``; a runner
with ``close()`` holds something to release (a worker process).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import traceback
from typing import Any, Callable, Optional

SETTLE_S = 0.3  # pause after a multi-threaded row (see measure())
N_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

try:
    _CLK_TCK = os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):
    _CLK_TCK = 100


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# load of other processes
# --------------------------------------------------------------------------


def busy_cpu_seconds() -> Optional[float]:
    """CPU-seconds all CPUs of the machine have been busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(v[:8]) - v[3] - v[4]  # all but idle and iowait (guest time is in user)
    return busy / _CLK_TCK


def other_load_now(seconds: float = 1.0) -> Optional[float]:
    """Cores used by other processes over `seconds` while this one sleeps (Linux), or None."""
    b0 = busy_cpu_seconds()
    t0 = time.perf_counter()
    time.sleep(seconds)
    b1 = busy_cpu_seconds()
    if b0 is None or b1 is None:
        return None
    return max(0.0, (b1 - b0) / (time.perf_counter() - t0))


def loadavg() -> Optional[list]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def busy_warning(other_cores: Optional[float], rows: list[dict]) -> Optional[str]:
    """A warning when other processes competed for the CPUs."""
    disturbed = sum(r.get("busy_repeats", 0) for r in rows)
    if disturbed:
        return (f"WARNING: {disturbed} timed repeat(s) stayed disturbed by other processes "
                "after re-timing (marked in the table): those rows are low and noisy, "
                "multi-threaded rows above all; re-run on an idle machine")
    if other_cores is not None and other_cores > 0.25:
        return (f"WARNING: other processes were using {other_cores:.2f} of {N_CPUS} CPUs when "
                "the run started: figures may be low and noisy (see 'per CPU-s')")
    return None


# --------------------------------------------------------------------------
# rows and timing
# --------------------------------------------------------------------------


class Case:
    """One row of a table: how to build its runner, and what timing it gave."""

    def __init__(self, group: str, impl: str, make: Callable[[], Any], ref: bool = False,
                 key: Optional[str] = None, **meta) -> None:
        self.group, self.impl, self.make, self.ref = group, impl, make, ref
        self.key = key or impl
        self.meta = meta
        self.runner = None
        self.units = 0
        self.rates: list[float] = []
        self.cpu_rates: list[float] = []
        self.foreign: list[Optional[float]] = []
        self.retries = 0
        self.busy_repeats = 0
        self.error: Optional[str] = None
        self.unit_kind: Optional[str] = None

    def result(self) -> dict:
        d = {"group": self.group, "impl": self.impl, "key": self.key, "ref": self.ref,
             **self.meta, "unit": "chars/s"}
        if self.error:
            d["error"] = self.error
        if self.rates:
            d.update(rates=self.rates, median=statistics.median(self.rates),
                     min=min(self.rates), max=max(self.rates), repeats=len(self.rates),
                     units_per_repeat=self.units, unit_kind=self.unit_kind,
                     cpu_rates=self.cpu_rates, cpu_median=statistics.median(self.cpu_rates),
                     other_load_cores=self.foreign, retimed=self.retries,
                     busy_repeats=self.busy_repeats)
        return d


def timed_cpu(runner, n: int) -> tuple[int, float, float, Optional[float]]:
    """chars, wall seconds, CPU seconds of the row's process (all its threads), and the
    CPU time other processes took meanwhile, in cores (None where /proc/stat is missing)."""
    b0 = busy_cpu_seconds()
    c0, t0 = time.process_time(), time.perf_counter()
    chars = runner.run(n)
    t1, c1 = time.perf_counter(), time.process_time()
    b1 = busy_cpu_seconds()
    ours = c1 - c0
    if getattr(runner, "remote", False):
        chars, wall, cpu = runner.last  # timed in the worker process
        ours += cpu
    else:
        wall, cpu = t1 - t0, c1 - c0
    foreign = None
    if b0 is not None and b1 is not None and t1 > t0:
        foreign = max(0.0, (b1 - b0 - ours) / (t1 - t0))
    return chars, wall, cpu, foreign


def calibrate(runner, target_s: float) -> int:
    """Units per timed repeat so that one repeat lasts about target_s."""
    first = 1 if runner.unit == "iteration" else 200
    _, dt, _, _ = timed_cpu(runner, first)  # warm-up (caches, lazy allocations, torch's first call)
    k = first
    if dt >= target_s:  # a slow row: one unit already lasts a repeat
        return first
    while True:
        _, dt, _, _ = timed_cpu(runner, k)
        if dt >= 0.2 * target_s or k >= 1 << 26:
            break
        k = k * 4 if dt <= 0 else max(k + 1, int(k * min(16.0, 0.3 * target_s / dt)))
    return max(first, int(round(k * target_s / max(dt, 1e-9))))


def timed_repeat(case: Case, retries: int) -> None:
    """Time one repeat of case.units and append its rates to the case.

    A repeat during which other processes took CPU time the row needed (more
    than the cores it leaves free, plus 0.25 core of slack for daemons and
    the benchmark's own parent) is timed again after a pause, up to
    `retries` times; if it is still disturbed the last try is kept and
    counted in busy_repeats."""
    threads = case.meta.get("threads", 1)
    for attempt in range(retries + 1):
        chars, dt, cpu, foreign = timed_cpu(case.runner, case.units)
        if foreign is None or foreign <= max(0.0, N_CPUS - threads) + 0.25:
            break
        if attempt < retries:
            case.retries += 1
            log(f"    {case.impl}: other processes used {foreign:.2f} cores; "
                f"re-timing ({attempt + 1}/{retries})")
            time.sleep(1.0 + attempt)
        else:
            case.busy_repeats += 1
    case.rates.append(chars / dt)
    case.cpu_rates.append(chars / cpu if cpu > 0 else float("nan"))
    case.foreign.append(foreign)


def prepare(case: Case, target_s: float, units: int = 0) -> bool:
    """Build the case's runner and choose its units per repeat (calibrating when
    units is 0; a fixed count still gets a warm-up call).  False if that failed."""
    try:
        case.runner = case.make()
        if units:
            timed_cpu(case.runner, 1 if case.runner.unit == "iteration" else 200)
            case.units = units
        else:
            case.units = calibrate(case.runner, target_s)
        return True
    except Exception as exc:
        case.error = f"{type(exc).__name__}: {exc}"
        log(f"    skipped: {case.error}")
        if os.environ.get("CRNN_BENCH_DEBUG"):
            traceback.print_exc()
        return False


def release(cases: list[Case]) -> None:
    """Free the runners (end the workers), keep what the report needs."""
    for c in cases:
        c.unit_kind = getattr(c.runner, "unit", None)
        if hasattr(c.runner, "close"):
            c.runner.close()
        c.runner = None


def measure(cases: list[Case], repeats: int, target_s: float, retries: int = 3) -> list[Case]:
    """Prepare every case, then time `repeats` interleaved rounds (see timed_repeat)."""
    live = []
    for c in cases:
        log(f"  preparing {c.group} | {c.impl}")
        if prepare(c, target_s):
            live.append(c)
    previous_threads = 1
    for r in range(repeats):
        log(f"  round {r + 1}/{repeats}")
        for c in live:
            if c.error:
                continue
            if previous_threads > 1:
                # OpenBLAS and OpenMP workers busy-wait for a while after a
                # parallel call; on 2 cores they would steal a core from the
                # next row (measured: -35% for a 1-thread row).  Let them sleep.
                time.sleep(SETTLE_S)
            try:
                timed_repeat(c, retries)
            except Exception as exc:
                c.error = f"{type(exc).__name__}: {exc}"
                log(f"    {c.impl} failed: {c.error}")
            previous_threads = c.meta.get("threads", 1)
    release(cases)
    return cases


def results_with_ratios(cases: list[Case]) -> list[dict]:
    rows = [c.result() for c in cases]
    refs = {}
    for row in rows:
        if row["ref"] and "median" in row:
            refs[row["group"]] = row
    for row in rows:
        ref = refs.get(row["group"])
        if ref is not None and "median" in row:
            row["ratio"] = row["median"] / ref["median"]
            row["ratio_to"] = ref["impl"]
    return rows


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def print_columns(head: tuple, lines: list[tuple]) -> None:
    """A table: the first column left-aligned, the last free, the others right-aligned;
    a 1-tuple line is a group heading (its text after a leading '#')."""
    n = len(head)
    cols = [line for line in lines if len(line) > 1]
    w = [max(len(head[i]), *(len(line[i]) for line in cols)) for i in range(n - 1)]
    fmt = "  ".join(["{:<%d}" % w[0]] + ["{:>%d}" % x for x in w[1:]] + ["{}"])
    print(fmt.format(*head))
    print("-" * (sum(w) + 2 * (n - 1) + len(head[-1])))
    for line in lines:
        print(line[0][1:] if len(line) == 1 else fmt.format(*line))


def print_table(title: str, rows: list[dict]) -> None:
    """case | median | min-max | chars per CPU-second | ratio to the group's reference."""
    print()
    print(f"== {title} ==")
    head = ("case", "chars/s median", "min - max", "per CPU-s", "ratio (medians, same run)")
    lines: list[tuple] = []
    group = None
    for row in rows:
        if row["group"] != group:
            group = row["group"]
            lines.append(("#" + group,))
        name = "  " + row["impl"]
        if "median" not in row:
            lines.append((name, "-", "-", "-", row.get("error", "not measured")[:70]))
            continue
        ratio = ""
        if "ratio" in row:
            ratio = "1.00x (ref)" if row["ref"] else f"{row['ratio']:.2f}x {row['ratio_to']}"
        if row.get("busy_repeats"):
            ratio += f"  [{row['busy_repeats']}/{row['repeats']} repeats disturbed by other load]"
        lines.append((name, fmt_rate(row["median"]),
                      f"{fmt_rate(row['min'])} - {fmt_rate(row['max'])}",
                      fmt_rate(row["cpu_median"]), ratio))
    print_columns(head, lines)
    print("(per CPU-s: chars per second of CPU time of the whole process, all threads; for a\n"
          " 1-thread row it is less sensitive to other load than the wall-clock median)")
    retimed = sum(r.get("retimed", 0) for r in rows)
    if retimed:
        print(f"({retimed} repeat(s) were re-timed because other processes took the CPU "
              "time the row needed)")
