"""What the benchmark rows run in: crnn (if importable), BLAS thread control,
PyTorch (found, not imported), the machine, the corpus, the shared context."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from harness import log, loadavg

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_CORPUS = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"


class Crnn:
    """crnn, if it can be imported (from the installed package, else from the
    repository's src/, which needs its kernels built in place)."""

    def __init__(self, wanted: bool = True) -> None:
        self.pkg = None
        self.notes: list[str] = []
        self.path_added = False
        if not wanted:
            self.notes.append("crnn not measured (--only-baselines)")
            return
        if importlib.util.find_spec("crnn") is None and (REPO / "src" / "crnn").is_dir():
            sys.path.insert(0, str(REPO / "src"))
            self.path_added = True
        try:
            import crnn
        except Exception as exc:  # depends on the tree: kernels not built, ...
            self.notes.append(f"import crnn failed (build the kernels: python setup.py "
                              f"build_ext --inplace): {exc!r}")
            return
        from crnn import _kernels

        self.pkg = crnn
        self.kernels = _kernels
        self.CharRNN = crnn.CharRNN
        self.Vocab = crnn.Vocab
        self.encode_corpus = crnn.data.encode_corpus

    @property
    def available(self) -> bool:
        return self.pkg is not None

    def describe(self) -> dict:
        d: dict[str, Any] = {"imported": self.available, "notes": self.notes}
        if self.available:
            d["location"] = self.pkg.__file__
            d["version"] = self.pkg.__version__
            d["kernels_file"] = self.kernels.__file__
            d["cpu_path"] = self.kernels.cpu_path()
        return d


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
            # the symbol depends on how NumPy's wheel was built
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
    return importlib.util.find_spec("torch") is not None


def torch_version() -> Optional[str]:
    try:
        from importlib.metadata import version

        return version("torch")
    except Exception:
        return None


def cpu_model() -> Optional[str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except Exception:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_info() -> dict:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version(),
        "loadavg_start": loadavg(),
    }


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
    if crnn.available:
        from crnn.corpus import builtin_text

        return builtin_text(), {"source": "crnn.corpus.builtin_text()"}
    log("note: no tinyshakespeare and no crnn (for its built-in corpus); "
        "using deterministic generated text")
    return generated_text(), {"source": "generated (benchmarks/environment.py:generated_text)"}


def encode(text: str) -> tuple[np.ndarray, list[str]]:
    """ids (int32) with characters sorted by code point (crnn's Vocab convention)."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    uniq, inv = np.unique(points, return_inverse=True)
    chars = [chr(int(c)) for c in uniq]
    return inv.astype(np.int32).reshape(-1), chars


class Context:
    """What the suites share: args, corpus text and ids, crnn, BLAS control, a temp folder."""

    def __init__(self, args) -> None:
        self.args = args
        self.crnn = Crnn(wanted=not args.only_baselines)
        self.use_torch = not args.no_torch and torch_available()
        self.blas = BlasThreads()
        self.text, self.corpus_info = load_corpus(args.corpus, self.crnn)
        self.ids, chars = encode(self.text)
        self.V = len(chars)
        self.corpus_info.update(chars=len(self.text), vocab_size=self.V)
        self._tmp: Optional[str] = None
        self._ids_path: Optional[str] = None

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
