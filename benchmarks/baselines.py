"""Baselines that crnn is measured against, written here from the equations.

Model (Karpathy's min-char-rnn, 2015)::

    h_t  = tanh(Wxh x_t + Whh h_{t-1} + bh)      x_t one-hot
    y_t  = Why h_t + by
    p_t  = softmax(y_t)
    loss = -sum_t log p_t[target_t]              (summed over the chunk,
                                                  averaged over B streams)

Truncated BPTT over ``seq_length`` characters, gradients clipped element-wise
to [-5, 5], Adagrad (lr, eps 1e-8).  Weights N(0,1)*0.01 from
``numpy.random.default_rng(seed)`` drawn in the order Wxh, Whh, Why; biases 0.

Three trainers, one interface (``Trainer(ids, vocab_size, hidden_size,
seq_length, batch_size, dtype, ...)``, then ``.train(iterations) -> chars``,
which continues from the trainer's own state):

* :class:`MinCharRNN` -- the 2015 script's structure: column vectors, one
  dict entry per time step, ``np.dot`` per step (including the one-hot
  ``Wxh @ x``), four separate Adagrad updates.  Batch size 1 only.
* :class:`NumpyVectorised` -- the same maths, written the way a careful NumPy
  user would: one flat parameter buffer, preallocated arrays, the
  non-recurrent products batched over the whole chunk (and batch), only
  ``h Whh^T`` and ``dh Whh`` per step.  Any batch size.
* :class:`TorchRNN` -- ``nn.RNN(tanh)`` + ``nn.Linear`` + ``torch.optim.Adagrad``
  (lr, initial_accumulator_value 0, eps 1e-8), cross-entropy summed over time
  and averaged over the batch, ``clip_grad_value_(5)``.  Only when ``import
  torch`` works.

Streams for batch size B (the crnn convention): the id array is cut into B
contiguous segments of ``len(ids) // B`` ids; every stream has its own hidden
state and they advance together; when ``p + seq_length + 1 >= segment`` the
pointer returns to 0 and all hidden states are reset to zero (with B = 1 this
is exactly min-char-rnn's rule; :func:`chunk_start`).

The functions :func:`train_minchar`, :func:`train_numpy` and
:func:`train_torch` wrap the classes: they train for a number of iterations
and return the number of characters processed (``B * T * iterations``).
The baselines for generation speed are in baselines_sampling.py.

``python benchmarks/baselines.py`` runs a self-check (baselines_check.py):
the three trainers, started from the same weights, must report the same
losses.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "init_weights",
    "MinCharRNN",
    "NumpyVectorised",
    "TorchRNN",
    "torch_available",
    "train_minchar",
    "train_numpy",
    "train_torch",
    "chunk_start",
]

CLIP = 5.0
EPS = 1e-8


def init_weights(vocab_size: int, hidden_size: int, dtype="float64", seed: int = 0):
    """min-char-rnn's initialisation: (Wxh (H,V), Whh (H,H), Why (V,H), bh (H,), by (V,))."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    H, V = hidden_size, vocab_size
    Wxh = (rng.standard_normal((H, V)) * 0.01).astype(dt)
    Whh = (rng.standard_normal((H, H)) * 0.01).astype(dt)
    Why = (rng.standard_normal((V, H)) * 0.01).astype(dt)
    return Wxh, Whh, Why, np.zeros(H, dt), np.zeros(V, dt)


def chunk_start(pointer: int, seq_length: int, segment: int, first: bool) -> tuple[int, bool]:
    """min-char-rnn's data-pointer rule: (where the next chunk starts, whether the
    hidden state is reset first).  Back to 0 on the first iteration and when the
    chunk's targets would run past the segment (``pointer + seq_length + 1 >=
    segment``).

    The same rule as ``crnn.data.chunk_start``, written again on purpose: the
    baselines are independent of crnn and must run where crnn is not built or
    installed (``--only-baselines``, this file's self-check, the PyTorch worker
    in a venv without crnn; ``import crnn.data`` loads crnn's compiled
    kernels).  baselines_check.py compares the two when crnn can be imported.
    """
    if first or pointer + seq_length + 1 >= segment:
        return 0, True
    return pointer, False


def _check_ids(ids, vocab_size: int, seq_length: int, batch_size: int) -> np.ndarray:
    ids = np.ascontiguousarray(ids, dtype=np.int32)
    if ids.ndim != 1:
        raise ValueError("ids must be one-dimensional")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError("ids out of range [0, vocab_size)")
    if ids.size // batch_size < seq_length + 2:
        raise ValueError("text too short for seq_length and batch_size")
    return ids


# --------------------------------------------------------------------------
# (a) min-char-rnn, as the 2015 script structures it
# --------------------------------------------------------------------------


class MinCharRNN:
    """The original loop: column vectors, per-step dicts, np.dot per step."""

    name = "min-char-rnn numpy"

    def __init__(self, ids, vocab_size, hidden_size=100, seq_length=25, batch_size=1,
                 dtype="float64", learning_rate=0.1, seed=0, n_threads=1):
        if batch_size != 1:
            raise ValueError("the min-char-rnn baseline has batch size 1 only")
        ids = _check_ids(ids, vocab_size, seq_length, 1)
        # the script slices a str and maps each char through a dict; slicing a
        # list of Python ints costs the same kind of per-character work
        self.data = ids.tolist()
        self.V, self.H, self.T = vocab_size, hidden_size, seq_length
        self.dtype = np.dtype(dtype)
        self.lr = learning_rate
        Wxh, Whh, Why, bh, by = init_weights(vocab_size, hidden_size, dtype, seed)
        self.Wxh, self.Whh, self.Why = Wxh, Whh, Why
        self.bh = bh.reshape(-1, 1).copy()
        self.by = by.reshape(-1, 1).copy()
        self.mems = [np.zeros_like(m) for m in (self.Wxh, self.Whh, self.Why, self.bh, self.by)]
        self.p = 0
        self.n = 0
        self.hprev = np.zeros((hidden_size, 1), self.dtype)
        self.smooth_loss = -math.log(1.0 / vocab_size) * seq_length
        self.loss = float("nan")

    def loss_fun(self, inputs, targets, hprev):
        """Forward and backward over one chunk; returns loss, clipped grads, last h."""
        Wxh, Whh, Why, bh, by = self.Wxh, self.Whh, self.Why, self.bh, self.by
        V, dt = self.V, self.dtype
        xs, hs, ys, ps = {}, {}, {}, {}
        hs[-1] = np.copy(hprev)
        loss = 0.0
        for t in range(len(inputs)):
            xs[t] = np.zeros((V, 1), dt)
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
            ys[t] = np.dot(Why, hs[t]) + by
            # as in the 2015 script, no max subtraction: with these weights the
            # logits stay small, and the cost is that of the original
            ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
            loss += -np.log(ps[t][targets[t], 0])
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby = np.zeros_like(bh), np.zeros_like(by)
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            dWhy += np.dot(dy, hs[t].T)
            dby += dy
            dh = np.dot(Why.T, dy) + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += np.dot(dhraw, xs[t].T)
            dWhh += np.dot(dhraw, hs[t - 1].T)
            dhnext = np.dot(Whh.T, dhraw)
        for d in (dWxh, dWhh, dWhy, dbh, dby):
            np.clip(d, -CLIP, CLIP, out=d)
        return float(loss), (dWxh, dWhh, dWhy, dbh, dby), hs[len(inputs) - 1]

    def train(self, iterations: int) -> int:
        T, data, lr = self.T, self.data, self.lr
        params = (self.Wxh, self.Whh, self.Why, self.bh, self.by)
        for _ in range(iterations):
            self.p, reset = chunk_start(self.p, T, len(data), self.n == 0)
            if reset:
                self.hprev = np.zeros((self.H, 1), self.dtype)
            inputs = data[self.p:self.p + T]
            targets = data[self.p + 1:self.p + T + 1]
            loss, grads, self.hprev = self.loss_fun(inputs, targets, self.hprev)
            self.loss = loss
            self.smooth_loss = self.smooth_loss * 0.999 + loss * 0.001
            for param, dparam, mem in zip(params, grads, self.mems):
                mem += dparam * dparam
                param += -lr * dparam / np.sqrt(mem + EPS)
            self.p += T
            self.n += 1
        return T * iterations


# --------------------------------------------------------------------------
# (b) well-vectorised NumPy
# --------------------------------------------------------------------------


class NumpyVectorised:
    """Same maths; batched non-recurrent products, preallocated arrays."""

    name = "numpy vectorised"

    def __init__(self, ids, vocab_size, hidden_size=100, seq_length=25, batch_size=1,
                 dtype="float64", learning_rate=0.1, seed=0, n_threads=1):
        ids = _check_ids(ids, vocab_size, seq_length, batch_size)
        V, H, T, B = vocab_size, hidden_size, seq_length, batch_size
        dt = np.dtype(dtype)
        self.V, self.H, self.T, self.B, self.dtype = V, H, T, B, dt
        self.lr = learning_rate
        seg = ids.size // B
        # time-major copy of the streams: column p of (L, B) holds every
        # stream's p-th id, so a chunk is the contiguous block [p, p+T+1)
        self.streams = np.ascontiguousarray(ids[: seg * B].reshape(B, seg).T)
        self.seg = seg

        # one flat buffer for the parameters; gradients and Adagrad share the layout
        sizes = [H * V, H * H, V * H, H, V]
        n = sum(sizes)
        self.params = np.zeros(n, dt)
        self.grads = np.zeros(n, dt)
        self.mem = np.zeros(n, dt)
        self.tmp = np.zeros(n, dt)
        Wxh, Whh, Why, bh, by = init_weights(V, H, dt, seed)
        self.WxhT, self.Whh, self.Why, self.bh, self.by = self._views(self.params)
        self.WxhT[...] = Wxh.T
        self.Whh[...] = Whh
        self.Why[...] = Why
        self.gWxhT, self.gWhh, self.gWhy, self.gbh, self.gby = self._views(self.grads)

        # work arrays, time-major: row block t holds the B streams at step t
        TB = T * B
        self.X = np.zeros((T, B), np.intp)
        self.Y = np.zeros(TB, np.intp)
        self.onehot = np.zeros((TB, V), dt)
        self.eye = np.eye(V, dtype=dt)
        self.hs = np.zeros((T + 1, B, H), dt)  # hs[0] = h_{-1}, hs[t+1] = h_t
        self.pre = np.zeros((T, B, H), dt)
        self.logits = np.zeros((TB, V), dt)
        self.rowtmp = np.zeros((TB, 1), dt)
        self.dH = np.zeros((T, B, H), dt)
        self.dtanh = np.zeros((T, B, H), dt)
        self.dhnext = np.zeros((B, H), dt)
        self.rows = np.arange(TB)
        self.p = 0
        self.n = 0
        self.smooth_loss = -math.log(1.0 / V) * T
        self.loss = float("nan")

    def _views(self, flat):
        V, H = self.V, self.H
        o = 0
        out = []
        for shape in ((V, H), (H, H), (V, H), (H,), (V,)):
            k = int(np.prod(shape))
            out.append(flat[o:o + k].reshape(shape))
            o += k
        return out

    def step(self, p: int) -> float:
        """One forward/backward/clip/Adagrad on the chunk starting at p; returns the loss."""
        T, B, H = self.T, self.B, self.H
        TB = T * B
        X, Y, hs, pre = self.X, self.Y, self.hs, self.pre
        X[...] = self.streams[p:p + T]
        Y[...] = self.streams[p + 1:p + T + 1].reshape(TB)
        Whh, WhhT = self.Whh, self.Whh.T

        # forward: the input term for every step at once (a row gather), then
        # only h_{t-1} Whh^T is per step
        np.take(self.WxhT, X, axis=0, out=pre)
        pre += self.bh
        for t in range(T):
            np.matmul(hs[t], WhhT, out=hs[t + 1])
            hs[t + 1] += pre[t]
            np.tanh(hs[t + 1], out=hs[t + 1])
        H1 = hs[1:].reshape(TB, H)
        P = self.logits
        np.matmul(H1, self.Why.T, out=P)
        P += self.by
        P -= P.max(axis=1, keepdims=True)
        z_target = P[self.rows, Y]  # shifted logit of each target
        np.exp(P, out=P)
        np.sum(P, axis=1, keepdims=True, out=self.rowtmp)
        P /= self.rowtmp
        # -log p = log(sum exp z) - z_target: finite even when p underflows
        loss = float(np.log(self.rowtmp).sum() - z_target.sum()) / B

        # backward: dlogits = (P - onehot(Y)) / B, then batched products
        P[self.rows, Y] -= 1.0
        if B != 1:
            P *= 1.0 / B
        np.matmul(P.T, H1, out=self.gWhy)
        np.sum(P, axis=0, out=self.gby)
        dH = self.dH
        np.matmul(P, self.Why, out=dH.reshape(TB, H))
        dtanh = self.dtanh
        np.multiply(hs[1:], hs[1:], out=dtanh)
        np.subtract(1.0, dtanh, out=dtanh)
        dhnext = self.dhnext
        # the recurrence: dh_t = dH_t + dhnext; draw_t = (1 - h_t^2) dh_t;
        # dhnext = draw_t Whh (row vectors), stored in place in dH
        dH[T - 1] *= dtanh[T - 1]
        for t in range(T - 2, -1, -1):
            np.matmul(dH[t + 1], Whh, out=dhnext)
            dH[t] += dhnext
            dH[t] *= dtanh[t]
        D = dH.reshape(TB, H)
        np.matmul(D.T, hs[:-1].reshape(TB, H), out=self.gWhh)
        np.sum(D, axis=0, out=self.gbh)
        np.take(self.eye, X.reshape(TB), axis=0, out=self.onehot)
        np.matmul(self.onehot.T, D, out=self.gWxhT)

        # clip, then Adagrad over the one flat buffer
        g, mem, tmp = self.grads, self.mem, self.tmp
        np.clip(g, -CLIP, CLIP, out=g)
        np.multiply(g, g, out=tmp)
        mem += tmp
        np.add(mem, EPS, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        self.params -= tmp

        hs[0] = hs[T]  # carry the state
        return loss

    def train(self, iterations: int) -> int:
        T = self.T
        for _ in range(iterations):
            self.p, reset = chunk_start(self.p, T, self.seg, self.n == 0)
            if reset:
                self.hs[0].fill(0.0)
            self.loss = loss = self.step(self.p)
            self.smooth_loss = self.smooth_loss * 0.999 + loss * 0.001
            self.p += T
            self.n += 1
        return self.B * T * iterations


# --------------------------------------------------------------------------
# (c) PyTorch
# --------------------------------------------------------------------------


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except Exception:
        return False
    return True


class TorchRNN:
    """nn.RNN(tanh) + nn.Linear + Adagrad, clip by value 5."""

    name = "torch nn.RNN"

    def __init__(self, ids, vocab_size, hidden_size=100, seq_length=25, batch_size=1,
                 dtype="float64", learning_rate=0.1, seed=0, n_threads=1):
        import torch

        self.torch = torch
        self.n_threads = int(n_threads)
        torch.set_num_threads(self.n_threads)
        ids = _check_ids(ids, vocab_size, seq_length, batch_size)
        V, H, T, B = vocab_size, hidden_size, seq_length, batch_size
        self.V, self.H, self.T, self.B = V, H, T, B
        tdt = {np.dtype("float64"): torch.float64, np.dtype("float32"): torch.float32}[np.dtype(dtype)]
        seg = ids.size // B
        self.seg = seg
        self.streams = torch.from_numpy(ids[: seg * B].reshape(B, seg).astype(np.int64))
        self.eye = torch.eye(V, dtype=tdt)

        self.rnn = torch.nn.RNN(V, H, nonlinearity="tanh", batch_first=True).to(tdt)
        self.out = torch.nn.Linear(H, V).to(tdt)
        Wxh, Whh, Why, bh, by = init_weights(V, H, dtype, seed)
        with torch.no_grad():
            self.rnn.weight_ih_l0.copy_(torch.from_numpy(Wxh))
            self.rnn.weight_hh_l0.copy_(torch.from_numpy(Whh))
            self.rnn.bias_ih_l0.zero_()
            self.rnn.bias_hh_l0.zero_()
            self.out.weight.copy_(torch.from_numpy(Why))
            self.out.bias.zero_()
        # nn.RNN has two hidden biases (b_ih + b_hh) that always get the same
        # gradient; Adagrad would then move bh twice as fast as min-char-rnn.
        # Freeze b_hh at zero so the model is min-char-rnn's exactly.
        self.rnn.bias_hh_l0.requires_grad_(False)
        self.parameters = [q for q in list(self.rnn.parameters()) + list(self.out.parameters())
                           if q.requires_grad]
        self.opt = torch.optim.Adagrad(self.parameters, lr=learning_rate,
                                       initial_accumulator_value=0.0, eps=EPS)
        self.h = torch.zeros(1, B, H, dtype=tdt)
        self.p = 0
        self.n = 0
        self.smooth_loss = -math.log(1.0 / V) * T
        self.loss = float("nan")

    def train(self, iterations: int) -> int:
        torch = self.torch
        F = torch.nn.functional
        torch.set_num_threads(self.n_threads)
        T, B, V = self.T, self.B, self.V
        for _ in range(iterations):
            self.p, reset = chunk_start(self.p, T, self.seg, self.n == 0)
            if reset:
                self.h.zero_()
            p = self.p
            x = self.eye[self.streams[:, p:p + T]]  # (B, T, V) one-hot
            y = self.streams[:, p + 1:p + T + 1].reshape(-1)
            hseq, hlast = self.rnn(x, self.h)
            logits = self.out(hseq).reshape(-1, V)
            loss = F.cross_entropy(logits, y, reduction="sum") / B
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_value_(self.parameters, CLIP)
            self.opt.step()
            self.h = hlast.detach()
            self.loss = lv = float(loss.detach())
            self.smooth_loss = self.smooth_loss * 0.999 + lv * 0.001
            self.p += T
            self.n += 1
        return B * T * iterations


# --------------------------------------------------------------------------
# function interface
# --------------------------------------------------------------------------


def _train(cls, ids, vocab_size, hidden_size, seq_length, batch_size, dtype, iterations, **kw):
    trainer = cls(ids, vocab_size, hidden_size, seq_length, batch_size, dtype, **kw)
    return trainer.train(iterations)


def train_minchar(ids, vocab_size, hidden_size=100, seq_length=25, batch_size=1,
                  dtype="float64", iterations=100, **kw) -> int:
    """Train min-char-rnn's loop for ``iterations``; returns chars processed."""
    return _train(MinCharRNN, ids, vocab_size, hidden_size, seq_length, batch_size, dtype,
                  iterations, **kw)


def train_numpy(ids, vocab_size, hidden_size=100, seq_length=25, batch_size=1,
                dtype="float64", iterations=100, **kw) -> int:
    """Train the vectorised NumPy version for ``iterations``; returns chars processed."""
    return _train(NumpyVectorised, ids, vocab_size, hidden_size, seq_length, batch_size, dtype,
                  iterations, **kw)


def train_torch(ids, vocab_size, hidden_size=100, seq_length=25, batch_size=1,
                dtype="float64", iterations=100, n_threads=1, **kw) -> int:
    """Train the PyTorch version (torch.set_num_threads(n_threads)); returns chars processed."""
    return _train(TorchRNN, ids, vocab_size, hidden_size, seq_length, batch_size, dtype,
                  iterations, n_threads=n_threads, **kw)


if __name__ == "__main__":
    from baselines_check import _selfcheck

    _selfcheck()
