"""How much memory a training run needs, and whether the machine has it.

``training_bytes`` counts what training allocates (``CharRNN`` and
``CharRNN.train``: the flat parameter buffer, its gradient, the optimizer's
state, the kernels' workspace, the roll-back snapshot, and the evaluation
workspace used at checkpoints), so that ``check_fits`` can refuse a model
that cannot fit with one clear line, before numpy fails with a traceback
half-way through allocating it.

The counts come from the kernels' own size functions, so they are exact
for every cell and depth.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from . import _kernels
from .engine import Engine
from .errors import ModelTooLargeError
from .netparams import GATES
from .network import Network
EVAL_CHUNK = 1024  # model.EVAL_CHUNK: time steps per forward call when evaluating
UNLIMITED = 1 << 60  # cgroup limits at or above this mean "no limit"


def parameter_count(hidden_size: int, vocab_size: int, num_layers: int = 1, cell: str = "rnn") -> int:
    """Elements of the flat parameter buffer (the kernels' own layout)."""
    return Network(cell, num_layers, hidden_size, vocab_size).param_count


def training_breakdown(hidden_size: int, vocab_size: int, seq_length: int, batch_size: int,
                       dtype: object, num_layers: int = 1, cell: str = "rnn",
                       optimizer_buffers: int = 1, eval_steps: int = EVAL_CHUNK) -> dict:
    """Bytes of each buffer training allocates, by name (see ``training_bytes``).
    The counts come from the kernels' own size functions (crnn.network,
    crnn.engine): nothing here repeats a layout formula."""
    if cell not in GATES:
        raise ValueError(f"cell must be one of {sorted(GATES)}, got {cell!r}")
    size = np.dtype(dtype).itemsize
    H, V, T, B, L = hidden_size, vocab_size, seq_length, batch_size, num_layers
    net = Network(cell, L, H, V)
    engine = Engine(net)
    P = net.param_count
    state = L * B * net.state_width  # the training state of every stream
    fused = engine.fused_step_ok(B, T)
    # The fused step (min-char-rnn's network only) has a workspace of its own.
    work = _kernels.train_workspace_size(B, T, H, V) if fused else engine.train_workspace_size(B, T)
    steps = max(1, min(eval_steps, int(2e8 // (P + L * H * H))))
    return {
        "parameters": P * size,
        "gradients": P * size,
        "optimizer state": optimizer_buffers * P * size,
        "training workspace": work * size,
        "hidden state and batch": (state if fused else 2 * state) * size + 2 * B * T * 4,
        "roll-back snapshot": ((1 + optimizer_buffers) * P + state) * size,
        "evaluation workspace": engine.forward_workspace_size(steps) * size,
    }


def training_bytes(hidden_size: int, vocab_size: int, seq_length: int, batch_size: int,
                   dtype: object, num_layers: int = 1, cell: str = "rnn",
                   optimizer_buffers: int = 1) -> int:
    """Bytes a model of these settings needs to train (Adagrad: 1 optimizer buffer;
    RMSprop 1, Adam 2, SGD with momentum 1)."""
    return sum(training_breakdown(hidden_size, vocab_size, seq_length, batch_size, dtype,
                                  num_layers, cell, optimizer_buffers).values())


# ----------------------------------------------------------------------
# What the machine has


def available_bytes(meminfo: str = "/proc/meminfo", proc_cgroup: str = "/proc/self/cgroup",
                    cgroup_root: str = "/sys/fs/cgroup") -> Optional[int]:
    """Memory this process can still allocate: the smaller of the system's
    MemAvailable and what is left under any cgroup limit above it (None when
    neither can be read, e.g. on macOS or Windows)."""
    figures = [n for n in (_meminfo_available(meminfo), _cgroup_available(proc_cgroup, cgroup_root))
               if n is not None]
    return min(figures) if figures else None


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _meminfo_available(path: str) -> Optional[int]:
    for line in (_read(path) or "").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024  # the figure is in kB
    return None


def _cgroup_available(proc_cgroup: str, root: str) -> Optional[int]:
    """The tightest room left under the memory limits of this process's cgroup
    and its ancestors (v2 memory.max, or v1 memory.limit_in_bytes)."""
    lefts = []
    for folder, limit_file, usage_file, cache_key in _cgroup_folders(proc_cgroup, root):
        limit = _read_int(os.path.join(folder, limit_file))
        if limit is None or limit >= UNLIMITED:
            continue
        usage = _read_int(os.path.join(folder, usage_file)) or 0
        # Page cache the kernel can drop does not count as used.
        stat = _read(os.path.join(folder, "memory.stat")) or ""
        cache = dict(line.split()[:2] for line in stat.splitlines() if len(line.split()) >= 2)
        reclaimable = int(cache.get(cache_key, cache.get("inactive_file", 0)))
        lefts.append(max(0, limit - max(0, usage - reclaimable)))
    return min(lefts) if lefts else None


def _cgroup_folders(proc_cgroup: str, root: str) -> list:
    """(folder, limit file, usage file, reclaimable-cache key) from the process's
    own cgroup up to the root, for cgroup v2 and v1 hierarchies."""
    found = []
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            base, files = root, ("memory.max", "memory.current", "inactive_file")
        elif "memory" in parts[1].split(","):
            base, files = os.path.join(root, "memory"), (
                "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        relative = parts[2].strip("/")
        while True:
            folder = os.path.join(base, relative) if relative else base
            if os.path.isdir(folder):
                found.append((folder,) + files)
            if not relative:
                break
            relative = os.path.dirname(relative)
    return found


def _read_int(path: str) -> Optional[int]:
    text = (_read(path) or "").strip()
    if text == "max":
        return UNLIMITED
    return int(text) if text.isdigit() else None


# ----------------------------------------------------------------------
# Saying it


def describe_size(n_bytes: float) -> str:
    """1536 -> '1.5 KiB', 80_000_000_000 -> '74.5 GiB'."""
    value = float(n_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def check_fits(needed: int, what: str = "training this model",
               available: Optional[int] = None,
               advice: str = "use a smaller --hidden-size or --batch-size, or --dtype float32") -> None:
    """Raise ModelTooLargeError if ``needed`` bytes exceed what is available
    (``available_bytes()`` unless given; nothing is refused when unknown)."""
    if available is None:
        available = available_bytes()
    if available is None or needed <= available:
        return
    raise ModelTooLargeError(
        f"{what} needs about {describe_size(needed)} of memory but only "
        f"{describe_size(available)} is available; {advice}",
        needed=needed, available=available,
    )


def largest_hidden_size(available: int, vocab_size: int, seq_length: int, batch_size: int,
                        dtype: object, num_layers: int = 1, cell: str = "rnn",
                        optimizer_buffers: int = 1) -> int:
    """The largest hidden size whose training fits in ``available`` bytes (0: none)."""
    def fits(H: int) -> bool:
        return training_bytes(H, vocab_size, seq_length, batch_size, dtype, num_layers, cell,
                              optimizer_buffers) <= available

    low, high = 0, 1
    while fits(high):  # the needed bytes grow with H: double, then bisect
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def check_training_fits(hidden_size: int, vocab_size: int, seq_length: int, batch_size: int,
                        dtype: object, num_layers: int = 1, cell: str = "rnn",
                        optimizer_buffers: int = 1, available: Optional[int] = None) -> int:
    """``check_fits`` for a training run of these settings, with advice that
    names only the options that would help; returns the bytes needed."""
    needed = training_bytes(hidden_size, vocab_size, seq_length, batch_size, dtype,
                            num_layers, cell, optimizer_buffers)
    if available is None:
        available = available_bytes()
    options = ["--hidden-size"] + (["--batch-size"] if batch_size > 1 else [])
    if num_layers > 1:
        options.append("--num-layers")
    advice = f"use a smaller {' or '.join(options)}"
    if available is not None and needed > available:
        largest = largest_hidden_size(available, vocab_size, seq_length, batch_size, dtype,
                                      num_layers, cell, optimizer_buffers)
        if largest:
            advice += f" (at most {largest:,} with the other settings)"
    if np.dtype(dtype) == np.float64:
        advice += ", or --dtype float32 (half the memory)"
    what = (f"training a model of hidden size {hidden_size:,} ({np.dtype(dtype).name}, "
            f"{vocab_size:,} characters, batch size {batch_size:,})")
    check_fits(needed, what, available, advice)
    return needed
