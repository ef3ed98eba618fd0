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
import ctypes
import datetime as _dt
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_CORPUS = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"
RESULTS_DIR = REPO / "bench_results"

if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import baselines as bl  # noqa: E402

LR = 0.1
SETTLE_S = 0.3  # pause after a multi-threaded row (see measure())
N_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# environment: crnn, torch, BLAS threads, machine
# --------------------------------------------------------------------------


class Crnn:
    """What of crnn could be imported, and how to reach its public API."""

    def __init__(self, wanted: bool = True) -> None:
        self.pkg = None
        self.kernels = None
        self.CharRNN = None
        self.Vocab = None
        self.encode_corpus = None
        self.notes: list[str] = []
        self.path_added = False
        if not wanted:
            self.notes.append("crnn not measured (--only-baselines)")
            return
        try:
            import crnn  # noqa: F401
        except ImportError:
            src = REPO / "src"
            if (src / "crnn").is_dir():
                sys.path.insert(0, str(src))
                self.path_added = True
        try:
            import crnn

            self.pkg = crnn
        except Exception as exc:  # pragma: no cover - depends on the tree
            self.notes.append(f"import crnn failed: {exc!r}")
            return
        try:
            from crnn import _kernels

            self.kernels = _kernels
        except Exception as exc:
            self.notes.append(f"crnn._kernels not importable (build it: python setup.py "
                              f"build_ext --inplace): {exc!r}")
        self.CharRNN = getattr(crnn, "CharRNN", None)
        self.Vocab = getattr(crnn, "Vocab", None)
        if self.CharRNN is None or self.Vocab is None:
            try:
                from crnn.model import CharRNN
                from crnn.vocab import Vocab

                self.CharRNN, self.Vocab = CharRNN, Vocab
                self.notes.append("crnn.CharRNN/Vocab not exported yet; used crnn.model/crnn.vocab")
            except Exception as exc:
                self.CharRNN = self.Vocab = None
                self.notes.append(f"crnn model layer not importable: {exc!r}")
        try:
            from crnn.data import encode_corpus

            self.encode_corpus = encode_corpus
        except Exception:
            self.encode_corpus = None

    @property
    def api(self) -> bool:
        return self.CharRNN is not None and self.Vocab is not None and self.kernels is not None

    def describe(self) -> dict:
        d: dict[str, Any] = {
            "imported": self.pkg is not None,
            "kernels": self.kernels is not None,
            "api": self.api,
            "notes": self.notes,
        }
        if self.pkg is not None:
            d["location"] = str(getattr(self.pkg, "__file__", None) or list(self.pkg.__path__))
            try:
                from crnn._version import __version__

                d["version"] = __version__
            except Exception:
                pass
        if self.kernels is not None:
            d["kernels_file"] = getattr(self.kernels, "__file__", None)
            if hasattr(self.kernels, "cpu_path"):
                try:
                    d["cpu_path"] = self.kernels.cpu_path()
                except Exception:
                    pass
        return d

    def thread_kwargs(self, n_threads: int) -> tuple[dict, dict]:
        """(constructor kwargs, train kwargs) that ask for n_threads, if the API takes it."""
        if "n_threads" in inspect.signature(self.CharRNN).parameters:
            return {"n_threads": n_threads}, {}
        if "n_threads" in inspect.signature(self.CharRNN.train).parameters:
            return {}, {"n_threads": n_threads}
        if n_threads != 1:
            raise RuntimeError("CharRNN takes no n_threads")
        return {}, {}


class BlasThreads:
    """Set OpenBLAS's thread count at run time (what threadpoolctl does, in 30 lines)."""

    SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads_64_",
               "openblas_set_num_threads64_", "openblas_set_num_threads", "MKL_Set_Num_Threads")

    def __init__(self) -> None:
        self.setters: list[Callable] = []
        self.libs: list[str] = []
        paths = set()
        try:
            with open("/proc/self/maps") as f:
                for line in f:
                    name = line.rsplit(None, 1)[-1]
                    low = os.path.basename(name).lower()
                    if ("openblas" in low or "libmkl_rt" in low) and ".so" in low:
                        paths.add(name)
        except OSError:
            pass
        for path in sorted(paths):
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for sym in self.SETTERS:
                fn = getattr(lib, sym, None)
                if fn is not None:
                    fn.argtypes = [ctypes.c_int]
                    fn.restype = None
                    self.setters.append(fn)
                    self.libs.append(f"{os.path.basename(path)}:{sym}")
                    break
        self.current: Optional[int] = None

    def set(self, n: int) -> None:
        if n != self.current:
            for fn in self.setters:
                fn(int(n))
            self.current = n


def torch_available() -> bool:
    """Whether torch is installed, found without importing it in this process (see _worker.py)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def torch_version() -> Optional[str]:
    try:
        from importlib.metadata import version

        return version("torch")
    except Exception:
        return None


def machine_info() -> dict:
    model = None
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
                break
    except Exception:
        pass
    if model is None:
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        model = line.split(":", 1)[1].strip()
                        break
        except OSError:
            model = platform.processor() or None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version(),
        "loadavg_start": _loadavg(),
    }


def other_load_now(seconds: float = 1.0) -> Optional[float]:
    """Cores used by other processes over `seconds` while this one sleeps (Linux), or None."""
    b0 = _busy_cpu_seconds()
    t0 = time.perf_counter()
    time.sleep(seconds)
    b1 = _busy_cpu_seconds()
    if b0 is None or b1 is None:
        return None
    return max(0.0, (b1 - b0) / (time.perf_counter() - t0))


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


def _loadavg() -> Optional[list]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------


def generated_text(n_chars: int = 1_000_000, seed: int = 2015) -> str:
    """Deterministic English-looking filler (used only when no corpus is found)."""
    rng = np.random.default_rng(seed)
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    weights = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8,
                        2.4, 2.2, 2.4, 2.0, 1.9, 1.0, 1.5, 2.0, 0.8, 0.2, 0.2, 0.2, 0.1])
    weights /= weights.sum()
    words = []
    for _ in range(3000):
        k = int(rng.integers(1, 9))
        words.append("".join(rng.choice(list(letters), size=k, p=weights)))
    out: list[str] = []
    size = 0
    while size < n_chars:
        sent = " ".join(words[i] for i in rng.integers(0, len(words), int(rng.integers(4, 16))))
        sent = sent.capitalize() + rng.choice([".", ",", ";", "?", "!"]) + (
            "\n" if rng.random() < 0.3 else " ")
        out.append(sent)
        size += len(sent)
    return "".join(out)[:n_chars]


def load_corpus(override: Optional[str], crnn: Crnn) -> tuple[str, dict]:
    if override:
        text = Path(override).read_text(encoding="utf-8")
        return text, {"source": "file", "path": str(Path(override).resolve())}
    if SHARED_CORPUS.is_file():
        text = SHARED_CORPUS.read_text(encoding="utf-8")
        return text, {"source": "tinyshakespeare", "path": str(SHARED_CORPUS)}
    try:
        if crnn.pkg is None:
            raise ImportError("crnn not importable")
        from crnn.corpus import builtin_text

        return builtin_text(), {"source": "crnn.corpus.builtin_text()"}
    except Exception as exc:
        log(f"note: no tinyshakespeare and no crnn built-in corpus ({exc!r}); "
            "using deterministic generated text")
        return generated_text(), {"source": "generated (benchmarks/bench.py:generated_text)"}


def encode(text: str) -> tuple[np.ndarray, list[str]]:
    """ids (int32) with characters sorted by code point (crnn's Vocab convention)."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    uniq, inv = np.unique(points, return_inverse=True)
    chars = [chr(int(c)) for c in uniq]
    return inv.astype(np.int32).reshape(-1), chars


# --------------------------------------------------------------------------
# runners: .run(units) -> characters processed
# --------------------------------------------------------------------------


class BaselineTrainRunner:
    unit = "iteration"

    def __init__(self, cls, ids, V, H, T, B, dtype, n_threads, blas: BlasThreads):
        self.blas = blas
        self.n_threads = n_threads
        blas.set(n_threads)
        self.trainer = cls(ids, V, H, T, B, dtype, learning_rate=LR, seed=0, n_threads=n_threads)

    def run(self, n: int) -> int:
        self.blas.set(self.n_threads)
        with np.errstate(all="ignore"):
            return self.trainer.train(n)


class CrnnTrainRunner:
    """model.train(ids, iterations=n) on a pre-encoded id array (no per-call encoding)."""

    unit = "iteration"

    def __init__(self, crnn: Crnn, text, H, T, B, dtype, n_threads, blas: BlasThreads):
        self.blas = blas
        ctor_kw, self.train_kw = crnn.thread_kwargs(n_threads)
        vocab = crnn.Vocab.from_text(text)
        self.model = crnn.CharRNN(vocab, hidden_size=H, seq_length=T, learning_rate=LR,
                                  batch_size=B, dtype=dtype, seed=0, **ctor_kw)
        if crnn.encode_corpus is not None:
            self.data = crnn.encode_corpus(text, vocab)
        else:
            self.data = vocab.encode(text)
        try:
            self.model.train(self.data, iterations=1, **self.train_kw)
        except TypeError:  # an API that only takes text: time a second call on the str
            self.data = text
            self.model.train(self.data, iterations=1, **self.train_kw)
        self.chars_per_iter = B * T

    def run(self, n: int) -> int:
        self.blas.set(1)
        self.model.train(self.data, iterations=n, **self.train_kw)
        return self.chars_per_iter * n


class KernelTrainRunner:
    """crnn._kernels.train_step in a tight loop (pointer bookkeeping as min-char-rnn)."""

    unit = "iteration"

    def __init__(self, kernels, ids, V, H, T, B, dtype, n_threads, blas: BlasThreads):
        self.k = kernels
        self.blas = blas
        dt = np.dtype(dtype)
        self.params = np.zeros(kernels.param_count(H, V), dt)
        views = kernels.param_views(self.params, H, V)
        Wxh, Whh, Why, _, _ = bl.init_weights(V, H, dt, 0)
        views["Wxh"][...] = Wxh
        views["Whh"][...] = Whh
        views["Why"][...] = Why
        self.mem = np.zeros_like(self.params)
        self.grads = np.zeros_like(self.params)
        self.work = np.zeros(kernels.train_workspace_size(B, T, H, V), dt)
        self.h = np.zeros((B, H), dt)
        self.seg = ids.size // B
        self.streams = ids[: self.seg * B].reshape(B, self.seg)
        self.inputs = np.zeros((B, T), np.int32)
        self.targets = np.zeros((B, T), np.int32)
        self.T, self.B, self.n_threads = T, B, n_threads
        self.p = 0
        self.first = True
        self.loss = float("nan")

    def run(self, n: int) -> int:
        self.blas.set(1)
        k, T = self.k, self.T
        step = k.train_step
        params, mem, grads, work, h = self.params, self.mem, self.grads, self.work, self.h
        inputs, targets, streams, nt = self.inputs, self.targets, self.streams, self.n_threads
        p = self.p
        for _ in range(n):
            if p + T + 1 >= self.seg or self.first:
                p = 0
                h.fill(0.0)
                self.first = False
            np.copyto(inputs, streams[:, p:p + T])
            np.copyto(targets, streams[:, p + 1:p + T + 1])
            self.loss = step(params, mem, grads, work, h, inputs, targets, LR, 5.0, 1e-8, nt)
            p += T
        self.p = p
        return self.B * T * n


class WorkerRunner:
    """A baseline training row run in a child process (_worker.py), timed there.

    Used for PyTorch, so that it runs on its own OpenMP runtime and not on the
    one crnn loaded (see _worker.py)."""

    unit = "iteration"
    remote = True

    def __init__(self, spec: dict) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_worker.py"), json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"benchmark worker failed to start (exit {self.proc.returncode}); "
                               "run with CRNN_BENCH_DEBUG=1 or try the row alone")
        self.last = (0, 0.0, 0.0)

    def run(self, n: int) -> int:
        self.proc.stdin.write(f"run {n}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "done":
            raise RuntimeError("benchmark worker died")
        self.last = (int(line[1]), float(line[2]), float(line[3]))
        return self.last[0]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except Exception:
                self.proc.kill()
                self.proc.wait()


class SampleRunner:
    """Generation: run(n) makes n characters from a zero state."""

    unit = "char"

    def __init__(self, fn: Callable[[int], Any], blas: BlasThreads):
        self.fn = fn
        self.blas = blas

    def run(self, n: int) -> int:
        self.blas.set(1)
        with np.errstate(all="ignore"):
            self.fn(n)
        return n


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------


class Case:
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


def _busy_cpu_seconds() -> Optional[float]:
    """CPU-seconds all CPUs of the machine have been busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(v[:8]) - v[3] - v[4]  # all but idle and iowait (guest time is in user)
    return busy / _CLK_TCK


try:
    _CLK_TCK = os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):
    _CLK_TCK = 100


def _timed(runner, n: int) -> tuple[int, float]:
    chars, wall, _, _ = _timed_cpu(runner, n)
    return chars, wall


def _timed_cpu(runner, n: int) -> tuple[int, float, float, Optional[float]]:
    """chars, wall seconds, CPU seconds of the row's process (all its threads), and the
    CPU time other processes took meanwhile, in cores (None where /proc/stat is missing)."""
    b0 = _busy_cpu_seconds()
    c0, t0 = time.process_time(), time.perf_counter()
    chars = runner.run(n)
    t1, c1 = time.perf_counter(), time.process_time()
    b1 = _busy_cpu_seconds()
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
    _, dt = _timed(runner, first)  # warm-up (caches, lazy allocations, torch's first call)
    k = first
    if dt >= target_s:  # a slow row: one unit already lasts a repeat
        return first
    while True:
        _, dt = _timed(runner, k)
        if dt >= 0.2 * target_s or k >= 1 << 26:
            break
        k = k * 4 if dt <= 0 else max(k + 1, int(k * min(16.0, 0.3 * target_s / dt)))
    return max(first, int(round(k * target_s / max(dt, 1e-9))))


def measure(cases: list[Case], repeats: int, target_s: float, retries: int = 3) -> list[Case]:
    """Prepare every case, then time `repeats` interleaved rounds.

    A repeat during which other processes took CPU time the row needed (see
    _timed_cpu) is timed again, up to `retries` times, after a pause; if it
    is still disturbed the last try is kept and counted in busy_repeats."""
    live = []
    for c in cases:
        log(f"  preparing {c.group} | {c.impl}")
        try:
            c.runner = c.make()
            c.units = calibrate(c.runner, target_s)
            live.append(c)
        except Exception as exc:
            c.error = f"{type(exc).__name__}: {exc}"
            log(f"    skipped: {c.error}")
            if os.environ.get("CRNN_BENCH_DEBUG"):
                traceback.print_exc()
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
                threads = c.meta.get("threads", 1)
                for attempt in range(retries + 1):
                    chars, dt, cpu, foreign = _timed_cpu(c.runner, c.units)
                    # clean if other processes left this row the cores it needs
                    # (0.25 core of slack: daemons, the benchmark's own parent)
                    if foreign is None or foreign <= max(0.0, N_CPUS - threads) + 0.25:
                        break
                    if attempt < retries:
                        c.retries += 1
                        log(f"    {c.impl}: other processes used {foreign:.2f} cores; "
                            f"re-timing ({attempt + 1}/{retries})")
                        time.sleep(1.0 + attempt)
                    else:
                        c.busy_repeats += 1
                c.rates.append(chars / dt)
                c.cpu_rates.append(chars / cpu if cpu > 0 else float("nan"))
                c.foreign.append(foreign)
            except Exception as exc:
                c.error = f"{type(exc).__name__}: {exc}"
                log(f"    {c.impl} failed: {c.error}")
            previous_threads = c.meta.get("threads", 1)
    for c in cases:  # free the models (end the workers), keep what the report needs
        c.unit_kind = getattr(c.runner, "unit", None)
        if hasattr(c.runner, "close"):
            c.runner.close()
        c.runner = None
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


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


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
    cols = [l for l in lines if len(l) > 1]
    w = [max(len(head[i]), *(len(l[i]) for l in cols)) for i in range(4)]
    fmt = "{:<%d}  {:>%d}  {:>%d}  {:>%d}  {}" % tuple(w)
    print(fmt.format(*head))
    print("-" * (sum(w) + 8 + len(head[4])))
    for l in lines:
        print(l[0][1:] if len(l) == 1 else fmt.format(*l))
    print("(per CPU-s: chars per second of CPU time of the whole process, all threads; for a\n"
          " 1-thread row it is less sensitive to other load than the wall-clock median)")
    retimed = sum(r.get("retimed", 0) for r in rows)
    if retimed:
        print(f"({retimed} repeat(s) were re-timed because other processes took the CPU "
              "time the row needed)")


# --------------------------------------------------------------------------
# suites
# --------------------------------------------------------------------------

G_TRAIN_SMALL = "train float64 H=100 T=25 B=1, 1 thread"
G_TRAIN_BIG_1 = "train float32 H=512 T=64 B=32, 1 thread"
G_TRAIN_BIG_2 = "train float32 H=512 T=64 B=32, 2 threads"
G_SAMPLE_SMALL = "sample float64 H=100, one stream"
G_SAMPLE_BIG = "sample float32 H=512, one stream"


def train_cases(ctx) -> list[list[Case]]:
    ids, V, text, crnn, blas = ctx.ids, ctx.V, ctx.text, ctx.crnn, ctx.blas
    use_torch = ctx.use_torch
    blocks = []

    def torch_row(H, T, B, dt, n):
        return partial(WorkerRunner, dict(impl="torch", ids_path=ctx.ids_path(), V=V, H=H, T=T,
                                          B=B, dtype=dt, threads=n))

    def meta(H, T, B, dtype, threads):
        return dict(hidden_size=H, seq_length=T, batch_size=B, dtype=dtype, threads=threads)

    H, T, B, dt = 100, 25, 1, "float64"
    g = G_TRAIN_SMALL
    small = [
        Case(g, "min-char-rnn numpy", partial(BaselineTrainRunner, bl.MinCharRNN, ids, V, H, T,
                                              B, dt, 1, blas),
             ref=True, key="minchar", **meta(H, T, B, dt, 1)),
        Case(g, "numpy vectorised", partial(BaselineTrainRunner, bl.NumpyVectorised, ids, V, H,
                                            T, B, dt, 1, blas),
             key="numpy", **meta(H, T, B, dt, 1)),
    ]
    if use_torch:
        small.append(Case(g, "torch nn.RNN (1 thread)", torch_row(H, T, B, dt, 1),
                          key="torch", **meta(H, T, B, dt, 1)))
    if crnn.api:
        small.append(Case(g, "crnn CharRNN.train", partial(
            CrnnTrainRunner, crnn, text, H, T, B, dt, 1, blas), key="crnn", **meta(H, T, B, dt, 1)))
    if crnn.kernels is not None:
        small.append(Case(g, "crnn _kernels.train_step loop", partial(
            KernelTrainRunner, crnn.kernels, ids, V, H, T, B, dt, 1, blas),
            key="kernel", **meta(H, T, B, dt, 1)))
    blocks.append(small)

    H, T, B, dt = 512, 64, 32, "float32"
    big = []
    for n, g in ((1, G_TRAIN_BIG_1), (2, G_TRAIN_BIG_2)):
        s = "s" if n > 1 else ""
        if use_torch:
            big.append(Case(g, f"torch nn.RNN ({n} thread{s})", torch_row(H, T, B, dt, n),
                            ref=True, key=f"torch{n}", **meta(H, T, B, dt, n)))
        big.append(Case(g, f"numpy vectorised ({n} BLAS thread{s})", partial(
            BaselineTrainRunner, bl.NumpyVectorised, ids, V, H, T, B, dt, n, blas),
            ref=not use_torch, key=f"numpy{n}", **meta(H, T, B, dt, n)))
        if crnn.api:
            big.append(Case(g, f"crnn CharRNN.train (n_threads={n})", partial(
                CrnnTrainRunner, crnn, text, H, T, B, dt, n, blas),
                key=f"crnn{n}", **meta(H, T, B, dt, n)))
        if crnn.kernels is not None:
            big.append(Case(g, f"crnn _kernels.train_step loop (n_threads={n})", partial(
                KernelTrainRunner, crnn.kernels, ids, V, H, T, B, dt, n, blas),
                key=f"kernel{n}", **meta(H, T, B, dt, n)))
    blocks.append(big)
    return blocks


def sample_cases(ctx) -> list[list[Case]]:
    crnn, blas, text = ctx.crnn, ctx.blas, ctx.text
    blocks = []
    for g, H, dt in ((G_SAMPLE_SMALL, 100, "float64"), (G_SAMPLE_BIG, 512, "float32")):
        # one set of untrained weights (N(0,1)*0.01) shared by every row of the group
        model = None
        if crnn.api:
            try:
                model = crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=H, dtype=dt, seed=0)
                w = model.params
                weights = tuple(np.array(w[k]) for k in ("Wxh", "Whh", "Why", "bh", "by"))
            except Exception as exc:
                log(f"note: crnn model for sampling failed: {exc!r}")
                model = None
        if model is None:
            weights = bl.init_weights(ctx.V, H, dt, 0)
        meta = dict(hidden_size=H, dtype=dt, threads=1)
        rows = [
            Case(g, "min-char-rnn numpy sample()",
                 lambda w=weights: SampleRunner(lambda n: bl.sample_minchar(w, n, seed=0), blas),
                 key="minchar", **meta),
            Case(g, "numpy sampling loop",
                 lambda w=weights: SampleRunner(bl.NumpySampler(w).sample, blas),
                 ref=True, key="numpy", **meta),
        ]
        if model is not None:
            rows.append(Case(g, "crnn CharRNN.sample",
                             lambda m=model: SampleRunner(lambda n: m.sample(n, seed=0), blas),
                             key="crnn", **meta))
        if crnn.kernels is not None:
            rows.append(Case(g, "crnn _kernels.sample (one call)",
                             lambda w=weights, H=H, dt=dt: SampleRunner(
                                 make_kernel_sampler(crnn.kernels, w, H, dt), blas),
                             key="kernel", **meta))
        blocks.append(rows)
    return blocks


def make_kernel_sampler(kernels, weights, H, dtype):
    V = weights[0].shape[1]
    dt = np.dtype(dtype)
    params = np.zeros(kernels.param_count(H, V), dt)
    views = kernels.param_views(params, H, V)
    for name, w in zip(("Wxh", "Whh", "Why", "bh", "by"), weights):
        views[name][...] = w
    work = np.zeros(kernels.sample_workspace_size(H, V), dt)
    h = np.zeros(H, dt)

    def run(n: int) -> None:
        rng = np.random.default_rng(0)
        out = np.empty(n, np.int32)
        h.fill(0.0)
        kernels.sample(out, h, work, params, 0, rng.random(n), 1.0)

    return run


# --------------------------------------------------------------------------
# memory (child processes: see _memchild.py)
# --------------------------------------------------------------------------


def make_big_text(text: str, n_bytes: int, directory: str) -> str:
    """A file of exactly ~n_bytes of UTF-8: the corpus repeated (cut at a char boundary)."""
    data = text.encode("utf-8")
    path = os.path.join(directory, f"corpus-{n_bytes}.txt")
    written = 0
    with open(path, "wb") as f:
        while written < n_bytes:
            piece = data[: n_bytes - written]
            if len(piece) < len(data):
                piece = piece.decode("utf-8", "ignore").encode("utf-8")
                if not piece:
                    break
            f.write(piece)
            written += len(piece)
    return path


def run_memory(ctx) -> list[dict]:
    size = int(ctx.args.mem_mb * 1_000_000)
    iterations = ctx.args.mem_iterations
    impls = []
    if ctx.crnn.api:
        impls += ["crnn-text", "crnn-ids", "crnn-file", "crnn-cli"]
    impls.append("numpy")
    rows = []
    tmp = tempfile.mkdtemp(prefix="crnn-bench-")
    try:
        log(f"  writing a {size / 1e6:.0f} MB text in {tmp}")
        path = make_big_text(ctx.text, size, tmp)
        text_bytes = os.path.getsize(path)
        env = dict(os.environ)
        if ctx.crnn.path_added:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(REPO / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env["OPENBLAS_NUM_THREADS"] = "1"
        for impl in impls:
            log(f"  peak memory: {impl}")
            cmd = [sys.executable, str(HERE / "_memchild.py"), "--impl", impl, "--path", path,
                   "--iterations", str(iterations)]
            if os.path.exists("/bin/sh"):
                # A child exec'd straight from this (big) process starts with our
                # ru_maxrss (Linux keeps the peak across fork + exec).  Going
                # through sh, which forks the real child, gives a clean count.
                cmd = ["/bin/sh", "-c", '"$0" "$@"'] + cmd
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            row: dict[str, Any] = {"group": f"peak memory, train H=100 on {size / 1e6:.0f} MB",
                                   "impl": impl, "text_bytes": text_bytes}
            if proc.returncode != 0:
                row["error"] = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            else:
                row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
                row["peak_over_text"] = row["peak_rss"] / text_bytes
                row["peak_above_start_over_text"] = (row["peak_rss"] - row["phases"]["imports"]) / text_bytes
            rows.append(row)
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    return rows


MEM_DESCRIPTIONS = {
    "crnn-text": "crnn: read_text, Vocab.from_text, train(text)",
    "crnn-ids": "crnn: read_text, encode_corpus, del text, train(ids)",
    "crnn-file": "crnn: vocab_from_file, encode_file, train(memmap)",
    "crnn-cli": "crnn train FILE (CLI, default options)",
    "numpy": "numpy vectorised: str + int32 ids",
}


def print_memory(rows: list[dict]) -> None:
    if not rows:
        return
    print()
    print(f"== {rows[0]['group']} (peak RSS of a fresh process / text bytes) ==")
    print(f"{'case':<52} {'peak RSS MB':>11} {'x text':>7} {'x text excl. start':>19}  "
          f"{'train chars/s':>13}  peak reached in")
    for r in rows:
        name = MEM_DESCRIPTIONS.get(r["impl"], r["impl"])
        if "error" in r:
            print(f"{name:<52} {'-':>11} {'-':>7} {'-':>19}  {'-':>13}  {r['error'][:60]}")
            continue
        ph = r["phases"]
        rate = fmt_rate(r["chars_per_s"]) if r.get("chars_per_s") else "-"
        # the first phase that brought ru_maxrss within 2% of the final peak
        where = next(k for k, v in ph.items() if v >= 0.98 * r["peak_rss"])
        print(f"{name:<52} {r['peak_rss'] / 1e6:>11.0f} {r['peak_over_text']:>7.2f} "
              f"{r['peak_above_start_over_text']:>19.2f}  {rate:>13}  {where}")


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
# main
# --------------------------------------------------------------------------


class Context:
    """What the suites share: args, corpus ids, crnn, BLAS control, a temp folder."""

    _tmp: Optional[str] = None
    _ids_path: Optional[str] = None

    def ids_path(self) -> str:
        """The corpus ids saved as .npy for worker processes."""
        if self._ids_path is None:
            self._tmp = tempfile.mkdtemp(prefix="crnn-bench-")
            self._ids_path = os.path.join(self._tmp, "ids.npy")
            np.save(self._ids_path, self.ids)
        return self._ids_path

    def cleanup(self) -> None:
        if self._tmp is not None:
            for name in os.listdir(self._tmp):
                os.unlink(os.path.join(self._tmp, name))
            os.rmdir(self._tmp)
            self._tmp = self._ids_path = None


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
    ctx = Context()
    try:
        return run(args, ctx)
    finally:
        ctx.cleanup()


def run(args, ctx: Context) -> int:
    started = time.time()
    ctx.args = args
    ctx.crnn = Crnn(wanted=not args.only_baselines)
    ctx.use_torch = not args.no_torch and torch_available()
    ctx.blas = BlasThreads()
    ctx.text, corpus_info = load_corpus(args.corpus, ctx.crnn)
    ctx.ids, chars = encode(ctx.text)
    ctx.V = len(chars)
    corpus_info.update(chars=len(ctx.text), vocab_size=ctx.V)
    if args.suite == "profile":
        return run_profile(ctx, args.row, args.seconds)
    machine = machine_info()

    command = " ".join([os.path.basename(sys.executable)] + sys.argv)
    print(f"crnn benchmarks: {command}")
    print(f"machine: {machine['cpu_model']}, {machine['cpus_usable']} usable CPUs, "
          f"load average {machine['loadavg_start']}")
    print(f"python {machine['python']}, numpy {machine['numpy']}, torch "
          f"{machine['torch'] if ctx.use_torch else 'not used'}"
          f"{'' if ctx.blas.setters else ' (BLAS thread count not controllable!)'}")
    print(f"corpus: {corpus_info['source']}, {corpus_info['chars']:,} chars, "
          f"vocabulary {ctx.V}")
    cd = ctx.crnn.describe()
    print(f"crnn: {'API + kernels' if cd['api'] else 'kernels only' if cd['kernels'] else 'not measured'}"
          f"{' (' + cd.get('location', '') + ')' if cd['imported'] else ''}"
          f"{', kernel path ' + str(cd['cpu_path']) if 'cpu_path' in cd else ''}")
    for note in ctx.crnn.notes:
        print(f"  note: {note}")
    other = other_load_now()
    machine["other_load_cores_start"] = None if other is None else round(other, 2)
    if other is not None:
        print(f"other processes are using {other:.2f} of {N_CPUS} CPUs (measured over 1 s)")
    print(f"repeats {args.repeats}, ~{args.seconds:g} s each; median, min-max over repeats; "
          f"ratio = median / the group's reference row, same run")

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

    if rows:
        print_table(f"{args.suite} speed (chars/s)", rows)
    print_memory(mem_rows)
    targets = evaluate_targets(rows, mem_rows)
    print_targets(targets, mem_rows)

    machine["loadavg_end"] = _loadavg()
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
        "corpus": corpus_info,
        "crnn": cd,
        "settings": {"repeats": args.repeats, "seconds_per_repeat": args.seconds,
                     "quick": args.quick, "learning_rate": LR,
                     "mem_mb": args.mem_mb, "mem_iterations": args.mem_iterations},
        "results": rows,
        "memory": mem_rows,
        "targets": targets,
    }
    if args.json:
        out = Path(args.json)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
        out = RESULTS_DIR / f"{args.suite}{'-quick' if args.quick else ''}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print()
    print(f"wrote {out} ({report['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
