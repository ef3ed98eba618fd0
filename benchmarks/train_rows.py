"""The training rows: min-char-rnn's network (float64, H=100, T=25, B=1) and a
batched float32 network (H=512, T=64, B=32) at 1 and 2 threads.

Every runner's ``run(n)`` trains n more iterations and returns B*T*n.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial

import numpy as np

import baselines as bl
from environment import HERE, BlasThreads, Crnn
from harness import Case

G_TRAIN_SMALL = "train float64 H=100 T=25 B=1, 1 thread"
G_TRAIN_BIG_1 = "train float32 H=512 T=64 B=32, 1 thread"
G_TRAIN_BIG_2 = "train float32 H=512 T=64 B=32, 2 threads"

# Learning rates.  The batched H=512 network diverges at min-char-rnn's 0.1
# (the loss passes crnn's divergence limit, 5x ln V per character, within 5
# iterations); at 0.01 it learns.  The work per iteration does not depend on
# the rate (crnn's tanh/exp are branch-free), so this changes no figure.
LR_SMALL = 0.1
LR_BIG = 0.01


class BaselineTrainRunner:
    unit = "iteration"

    def __init__(self, cls, ids, V, H, T, B, dtype, n_threads, blas: BlasThreads, lr: float):
        self.blas = blas
        self.n_threads = n_threads
        blas.set(n_threads)
        self.trainer = cls(ids, V, H, T, B, dtype, learning_rate=lr, seed=0, n_threads=n_threads)

    def run(self, n: int) -> int:
        self.blas.set(self.n_threads)
        with np.errstate(all="ignore"):
            return self.trainer.train(n)


class CrnnTrainRunner:
    """model.train(ids, iterations=n) on a pre-encoded id array (no per-call encoding)."""

    unit = "iteration"

    def __init__(self, crnn: Crnn, text, H, T, B, dtype, n_threads, blas: BlasThreads, lr: float):
        self.blas = blas
        vocab = crnn.Vocab.from_text(text)
        self.model = crnn.CharRNN(vocab, hidden_size=H, seq_length=T, learning_rate=lr,
                                  batch_size=B, dtype=dtype, seed=0, n_threads=n_threads)
        self.data = crnn.encode_corpus(text, vocab)
        self.model.train(self.data, iterations=1)
        self.chars_per_iter = B * T

    def run(self, n: int) -> int:
        self.blas.set(1)
        self.model.train(self.data, iterations=n)
        return self.chars_per_iter * n


class KernelTrainRunner:
    """crnn._kernels.train_step in a tight loop, the data pointer moved by
    crnn.data.chunk_start (all B streams have the same segment length, so
    they wrap together and one pointer serves them all)."""

    unit = "iteration"

    def __init__(self, crnn: Crnn, ids, V, H, T, B, dtype, n_threads, blas: BlasThreads, lr: float):
        kernels = crnn.kernels
        self.k = kernels
        self.chunk_start = crnn.pkg.data.chunk_start
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
        self.T, self.B, self.n_threads, self.lr = T, B, n_threads, lr
        self.p = 0
        self.first = True
        self.loss = float("nan")

    def run(self, n: int) -> int:
        self.blas.set(1)
        T, seg, chunk_start = self.T, self.seg, self.chunk_start
        step = self.k.train_step
        params, mem, grads, work, h = self.params, self.mem, self.grads, self.work, self.h
        inputs, targets, streams, nt, lr = self.inputs, self.targets, self.streams, self.n_threads, self.lr
        p = self.p
        for _ in range(n):
            p, reset = chunk_start(p, T, seg, self.first)
            if reset:
                h.fill(0.0)
                self.first = False
            np.copyto(inputs, streams[:, p:p + T])
            np.copyto(targets, streams[:, p + 1:p + T + 1])
            self.loss = step(params, mem, grads, work, h, inputs, targets, lr, 5.0, 1e-8, nt)
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


def _meta(H, T, B, dtype, threads, lr):
    return dict(hidden_size=H, seq_length=T, batch_size=B, dtype=dtype, threads=threads,
                learning_rate=lr)


def small_train_cases(ctx) -> list[Case]:
    """min-char-rnn's network, every implementation, 1 thread."""
    ids, V, crnn, blas = ctx.ids, ctx.V, ctx.crnn, ctx.blas
    H, T, B, dt, lr = 100, 25, 1, "float64", LR_SMALL
    g, meta = G_TRAIN_SMALL, _meta(H, T, B, dt, 1, lr)
    rows = [
        Case(g, "min-char-rnn numpy", partial(BaselineTrainRunner, bl.MinCharRNN, ids, V, H, T,
                                              B, dt, 1, blas, lr), ref=True, key="minchar", **meta),
        Case(g, "numpy vectorised", partial(BaselineTrainRunner, bl.NumpyVectorised, ids, V, H,
                                            T, B, dt, 1, blas, lr), key="numpy", **meta),
    ]
    if ctx.use_torch:
        rows.append(Case(g, "torch nn.RNN (1 thread)", torch_row(ctx, H, T, B, dt, 1, lr),
                         key="torch", **meta))
    if crnn.available:
        rows.append(Case(g, "crnn CharRNN.train", partial(
            CrnnTrainRunner, crnn, ctx.text, H, T, B, dt, 1, blas, lr), key="crnn", **meta))
        rows.append(Case(g, "crnn _kernels.train_step loop", partial(
            KernelTrainRunner, crnn, ids, V, H, T, B, dt, 1, blas, lr), key="kernel", **meta))
    return rows


def big_train_cases(ctx) -> list[Case]:
    """The batched float32 network at 1 and 2 threads (one block: interleaved together)."""
    ids, V, crnn, blas = ctx.ids, ctx.V, ctx.crnn, ctx.blas
    H, T, B, dt, lr = 512, 64, 32, "float32", LR_BIG
    rows = []
    for n, g in ((1, G_TRAIN_BIG_1), (2, G_TRAIN_BIG_2)):
        s = "s" if n > 1 else ""
        meta = _meta(H, T, B, dt, n, lr)
        if ctx.use_torch:
            rows.append(Case(g, f"torch nn.RNN ({n} thread{s})", torch_row(ctx, H, T, B, dt, n, lr),
                             ref=True, key=f"torch{n}", **meta))
        rows.append(Case(g, f"numpy vectorised ({n} BLAS thread{s})", partial(
            BaselineTrainRunner, bl.NumpyVectorised, ids, V, H, T, B, dt, n, blas, lr),
            ref=not ctx.use_torch, key=f"numpy{n}", **meta))
        if crnn.available:
            rows.append(Case(g, f"crnn CharRNN.train (n_threads={n})", partial(
                CrnnTrainRunner, crnn, ctx.text, H, T, B, dt, n, blas, lr),
                key=f"crnn{n}", **meta))
            rows.append(Case(g, f"crnn _kernels.train_step loop (n_threads={n})", partial(
                KernelTrainRunner, crnn, ids, V, H, T, B, dt, n, blas, lr),
                key=f"kernel{n}", **meta))
    return rows


def torch_row(ctx, H, T, B, dt, n, lr):
    return partial(WorkerRunner, dict(impl="torch", ids_path=ctx.ids_path(), V=ctx.V, H=H, T=T,
                                      B=B, dtype=dt, threads=n, lr=lr))


def train_cases(ctx) -> list[list[Case]]:
    """The training blocks; the rows of a block are timed interleaved."""
    return [small_train_cases(ctx), big_train_cases(ctx)]
