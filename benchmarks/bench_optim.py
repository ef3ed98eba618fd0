"""Speed of the optimizer passes (crnn.optim) against the machine's memory bandwidth.

    python benchmarks/bench_optim.py [--sizes 2000000 32000000] [--repeats 5]
                                     [--dtypes float32 float64] [--json PATH] [--quick]

Every update is one pass over flat arrays, so its floor is its memory
traffic: the table gives, per pass, the bytes each parameter moves (arrays
read + arrays written, times the element size; write-allocate traffic not
counted), the median time per call over --repeats runs, the GB/s that traffic
implies (at the median and at the fastest run: "best"), and that as a fraction of the bandwidth NumPy reaches on the same
arrays in the same moment: each run of a pass is paired with a run of
``a += b`` in NumPy (3 streams, n elements each) right after it, so load
from other processes hits both alike, and "of bw" is the median of the
per-run ratios.  With 2M elements a pass's arrays (8-16 MB each) partly fit
the last-level cache, so both figures can exceed DRAM bandwidth; 32M is the
DRAM case.  "fused" rows clip inside the update (one read of g for the
norm, then the update), "apart" rows clip first (norm read, scale pass,
update).  The load (os.getloadavg) is printed before and after.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
try:
    import crnn  # noqa: F401
except ImportError:  # run from the source tree without PYTHONPATH=src
    sys.path.insert(0, str(REPO / "src"))

from crnn import _kernels  # noqa: E402
from crnn import optim  # noqa: E402

# (row name, optimizer, settings, clip mode, clip value, fused, arrays moved per element)
# arrays moved: each array read counts 1, each written counts 1.
ROWS = [
    ("sumsq (norm of g)", None, None, "sumsq", None, True, 1),
    ("scale g *= s", None, None, "scale", None, True, 2),
    ("clip by value", None, None, "clipvalue", None, True, 2),
    ("adagrad", "adagrad", {}, "none", None, True, 5),
    ("adagrad + clip value, fused", "adagrad", {}, "value", 5.0, True, 5),
    ("adagrad + clip value, apart", "adagrad", {}, "value", 5.0, False, 7),
    ("sgd", "sgd", {}, "none", None, True, 3),
    ("sgd momentum nesterov wd", "sgd", {"momentum": 0.9, "nesterov": True,
                                        "weight_decay": 1e-4}, "none", None, True, 5),
    ("rmsprop", "rmsprop", {"alpha": 0.95}, "none", None, True, 5),
    ("rmsprop centered momentum", "rmsprop", {"centered": True, "momentum": 0.9},
     "none", None, True, 9),
    ("adam", "adam", {}, "none", None, True, 7),
    ("adam amsgrad", "adam", {"amsgrad": True}, "none", None, True, 9),
    ("adamw", "adamw", {}, "none", None, True, 7),
    ("adam + clip norm, fused", "adam", {}, "norm", 1.0, True, 8),
    ("adam + clip norm, apart", "adam", {}, "norm", 1.0, False, 10),
]


def timed(fn, repeats, min_seconds):
    """Median seconds per call: each run calls fn until min_seconds pass."""
    fn()  # warm-up: page faults, caches
    runs = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        runs.append(elapsed / calls)
    return statistics.median(runs), min(runs), max(runs)


class Probe:
    """NumPy's a += b over n elements: 3 streams (read a, b; write a), the
    bandwidth reference.  In place like the updates, so that no write goes to
    a line not read first (an out-of-place a = b + c also reads a's lines
    before writing them: traffic the count would miss)."""

    def __init__(self, n, dtype):
        rng = np.random.default_rng(0)
        self.a, self.b = (rng.standard_normal(n).astype(dtype) * 1e-3 for _ in range(2))
        self.sign = 1
        self.moved = 3 * self.a.nbytes

    def __call__(self):
        # alternate += and -= so a stays bounded over many calls
        (np.add if self.sign > 0 else np.subtract)(self.a, self.b, out=self.a)
        self.sign = -self.sign


def paired(fn, probe, repeats, min_seconds):
    """Per run: seconds per call of fn, then the probe's GB/s right after."""
    fn()
    probe()
    times, ratios, probe_gbs = [], [], []
    for _ in range(repeats):
        t_fn = timed(fn, 1, min_seconds)[0]
        t_probe = timed(probe, 1, min_seconds / 2)[0]
        times.append(t_fn)
        probe_gbs.append(probe.moved / t_probe / 1e9)
        ratios.append((1 / t_fn) / (probe_gbs[-1] * 1e9))  # calls/s per probe byte/s
    return times, ratios, probe_gbs


def row_function(row, n, dtype, rng):
    name, opt_name, settings, clip, value, fused, _ = row
    g = (rng.standard_normal(n) * 0.1).astype(dtype)
    if clip == "sumsq":
        return lambda: _kernels.sumsq(g)
    if clip == "scale":
        return lambda: _kernels.scale(g, 1.0)
    if clip == "clipvalue":
        return lambda: _kernels.clip(g, 5.0)
    p = rng.standard_normal(n).astype(dtype)
    opt = optim.make_optimizer(opt_name, n, dtype, **settings)
    lr = 1e-9  # keeps the values (and so the speed) steady over many calls
    if fused:
        return lambda: opt.step(p, g, lr, clip=clip, clip_value=value)

    # clip_gradients' passes when it clips (scale by 1.0 keeps g steady over calls)
    def apart_norm():
        math.sqrt(_kernels.sumsq(g))
        _kernels.scale(g, 1.0)
        opt.step(p, g, lr)

    def apart_value():
        _kernels.clip(g, value)
        opt.step(p, g, lr)
    return apart_norm if clip == "norm" else apart_value


def uptime():
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2_000_000, 32_000_000])
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.3, help="length of one run")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 short runs (CI)")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats, args.seconds = [100_003], 3, 0.02

    results = {"started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "machine": platform.processor() or platform.machine(),
               "cpu_path": _kernels.cpu_path(), "load_before": uptime(), "rows": []}
    print(f"crnn optimizer passes, CPU path {results['cpu_path']}, one thread; "
          f"load {results['load_before']}")
    rng = np.random.default_rng(1)
    for dtype_name in args.dtypes:
        dtype = np.dtype(dtype_name)
        for n in args.sizes:
            probe = Probe(n, dtype)
            print(f"\n{dtype_name}, n = {n:,} ({n * dtype.itemsize / 1e6:.0f} MB per array)")
            print(f"{'pass':32} {'B/param':>8} {'ms/call':>9} {'min-max':>15} "
                  f"{'GB/s':>7} {'best':>6} {'numpy':>7} {'of bw':>6}")
            for row in ROWS:
                fn = row_function(row, n, dtype, rng)
                times, ratios, probe_gbs = paired(fn, probe, args.repeats, args.seconds)
                med, lo, hi = statistics.median(times), min(times), max(times)
                per_param = row[6] * dtype.itemsize
                gbs = per_param * n / med / 1e9
                frac = statistics.median(ratios) * per_param * n
                bw = statistics.median(probe_gbs)
                best = per_param * n / lo / 1e9
                print(f"{row[0]:32} {per_param:8d} {med * 1e3:9.3f} "
                      f"{lo * 1e3:7.3f}-{hi * 1e3:<7.3f} {gbs:7.1f} {best:6.1f} {bw:7.1f} "
                      f"{frac:6.0%}")
                results["rows"].append({"pass": row[0], "dtype": dtype_name, "n": n,
                                        "bytes_per_param": per_param, "median_s": med,
                                        "min_s": lo, "max_s": hi, "gb_per_s": gbs,
                                        "numpy_add_gb_per_s": bw,
                                        "fraction_of_bandwidth": frac})
                del fn
            del probe
    results["load_after"] = uptime()
    print(f"\nload after: {results['load_after']}")
    path = args.json or REPO / "bench_results" / (
        "optim-" + _dt.datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
