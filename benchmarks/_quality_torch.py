"""The PyTorch rows of quality.py: the script a PyTorch user would write.

    ids (T, B) -> nn.Embedding(V, V) or one-hot (V) -> nn.LSTM/GRU/RNN (L layers, H)
               -> nn.Linear(H, V) -> cross-entropy

* Input: ``torch_input`` "embedding" (a learned V x V table, what most
  scripts use) or "onehot" (``F.one_hot``, exactly crnn's input).  Both
  feed a recurrent layer of input size V.
* Loss: ``torch_loss`` "mean" (PyTorch's usual ``F.cross_entropy``, the mean
  over all B*T tokens) or "sum" (summed over time, averaged over the batch:
  crnn's and min-char-rnn's scale).  Adam is almost invariant to the loss
  scale, but clipping by norm is not: with "sum" the gradient is T times
  larger, so the same max norm clips far more often.
* Truncated BPTT: B contiguous streams over the text, cut and advanced as
  crnn cuts them (``crnn.data.chunk_start``: a stream goes back to the
  start of its segment, with a zero state, when the next chunk would run past
  it, and on the first iteration; all streams share one pointer because the
  segments have equal lengths).  The state is carried between chunks,
  detached.
* Dropout: ``nn.LSTM(dropout=p)``, i.e. between stacked layers only.
* Schedules: "cosine" as ``lr = lr0 * (floor + (1 - floor) * (1 + cos(pi *
  min(t, total) / total)) / 2)`` at step t (then the floor).
* Held-out: one stream, eval mode, no grad, from the start state crnn uses
  (the state after reading, from zeros, the last <= 1000 training characters
  up to the last newline; the parent computes those ids with crnn's own
  function).

This module imports only torch and numpy (never crnn: see _quality_child.py).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

EVAL_CHUNK = 4096  # time steps per forward call when scoring one stream
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class CharNet(nn.Module):
    def __init__(self, vocab_size: int, cfg: dict, input_mode: str) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.input_mode = input_mode
        if input_mode == "embedding":
            self.embed = nn.Embedding(vocab_size, vocab_size)
        elif input_mode != "onehot":
            raise ValueError(f"torch_input must be 'embedding' or 'onehot', got {input_mode!r}")
        dropout = cfg["dropout"] if cfg["layers"] > 1 else 0.0
        self.rnn = CELLS[cfg["cell"]](vocab_size, cfg["hidden"], num_layers=cfg["layers"],
                                      dropout=dropout)
        self.out = nn.Linear(cfg["hidden"], vocab_size)

    def forward(self, x: torch.Tensor, state):
        """x: (T, B) int64 ids -> logits (T, B, V), new state."""
        if self.input_mode == "embedding":
            inputs = self.embed(x)
        else:
            inputs = F.one_hot(x, self.vocab_size).to(self.out.weight.dtype)
        hidden, state = self.rnn(inputs, state)
        return self.out(hidden), state


def zero_state(cfg: dict, batch: int, dtype: torch.dtype):
    h = torch.zeros(cfg["layers"], batch, cfg["hidden"], dtype=dtype)
    if cfg["cell"] == "lstm":
        return (h, h.clone())
    return h


def detach(state):
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def make_optimizer(cfg: dict, params) -> torch.optim.Optimizer:
    name, lr = cfg["optimizer"], cfg["lr"]
    extra = dict(cfg.get("optimizer_settings") or {})
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, **extra)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, **extra)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, **extra)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, **extra)
    if name == "adagrad":
        # min-char-rnn's accumulator starts at 0; eps 1e-8 (torch adds it
        # outside the square root, min-char-rnn inside).
        return torch.optim.Adagrad(params, lr=lr, initial_accumulator_value=0.0, eps=1e-8, **extra)
    raise ValueError(f"unknown optimizer {name!r}")


def lr_factor(schedule: dict | None, step: int, total: int | None) -> float:
    if not schedule:
        return 1.0
    if schedule["kind"] == "cosine":
        floor = float(schedule.get("floor", 0.0))
        t = min(step, total) / total
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"the torch rows know only the 'cosine' schedule, not {schedule['kind']!r}")


class TorchRunner:
    """Trains one PyTorch configuration in slices; see the module docstring."""

    def __init__(self, cfg: dict, data: dict, threads: int, seed: int,
                 schedule_total: int | None) -> None:
        torch.manual_seed(seed)
        self.cfg = cfg
        self.dtype = {"float32": torch.float32, "float64": torch.float64}[cfg["dtype"]]
        self.chars = data["chars"]
        self.V = len(self.chars)
        self.input_mode = cfg.get("torch_input", "embedding")
        self.net = CharNet(self.V, cfg, self.input_mode).to(self.dtype)
        self.opt = make_optimizer(cfg, self.net.parameters())
        self.schedule_total = schedule_total
        self.train_ids = torch.from_numpy(np.asarray(data["train"], dtype=np.int64))
        self.heldout = torch.from_numpy(np.asarray(data["heldout"], dtype=np.int64))
        self.burn_in = torch.from_numpy(np.asarray(data["burn_in"], dtype=np.int64))
        B, T = cfg["batch"], cfg["seq"]
        self.segment = len(self.train_ids) // B
        if self.segment < T + 1:
            raise ValueError("the training text is too short for batch * (seq + 1)")
        self.stream_starts = torch.arange(B) * self.segment
        self.offsets = torch.arange(T + 1)
        self.pointer = 0
        self.step = 0
        self.state = zero_state(cfg, B, self.dtype)
        self.versions = {"torch_version": torch.__version__,
                         "torch_threads": torch.get_num_threads(),
                         "torch_interop_threads": torch.get_num_interop_threads()}

    @property
    def param_count(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def _next_chunk(self) -> torch.Tensor:
        """(T + 1, B) ids: inputs are rows :T, targets rows 1:."""
        T = self.cfg["seq"]
        if self.step == 0 or self.pointer + T + 1 >= self.segment:
            self.pointer = 0
            self.state = zero_state(self.cfg, self.cfg["batch"], self.dtype)
        index = self.stream_starts[None, :] + self.pointer + self.offsets[:, None]
        self.pointer += T
        return self.train_ids[index]

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        flat_logits, flat_targets = logits.reshape(-1, self.V), targets.reshape(-1)
        if self.cfg.get("torch_loss", "mean") == "mean":
            return F.cross_entropy(flat_logits, flat_targets)
        return F.cross_entropy(flat_logits, flat_targets, reduction="sum") / self.cfg["batch"]

    def train(self, iterations: int) -> float:
        cfg = self.cfg
        self.net.train()
        loss_value = float("nan")
        for _ in range(iterations):
            chunk = self._next_chunk()
            factor = lr_factor(cfg.get("schedule"), self.step, self.schedule_total)
            for group in self.opt.param_groups:
                group["lr"] = cfg["lr"] * factor
            logits, state = self.net(chunk[:-1], self.state)
            self.state = detach(state)
            loss = self._loss(logits, chunk[1:])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg["clip_mode"] == "norm":
                nn.utils.clip_grad_norm_(self.net.parameters(), cfg["clip"])
            elif cfg["clip_mode"] == "value":
                nn.utils.clip_grad_value_(self.net.parameters(), cfg["clip"])
            self.opt.step()
            self.step += 1
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                break
        if cfg.get("torch_loss", "mean") == "sum":
            loss_value /= cfg["seq"]
        return loss_value  # nats/char of the last chunk

    @torch.no_grad()
    def _read(self, ids: torch.Tensor, state, targets: torch.Tensor | None):
        """Feed ids (N,) as one stream; returns (summed nats, state, last logits)."""
        total, logits = 0.0, None
        for start in range(0, len(ids), EVAL_CHUNK):
            x = ids[start:start + EVAL_CHUNK, None]
            logits, state = self.net(x, state)
            if targets is not None:
                y = targets[start:start + EVAL_CHUNK]
                total += F.cross_entropy(logits[:, 0], y, reduction="sum").item()
        return total, state, logits

    def _start(self):
        state = zero_state(self.cfg, 1, self.dtype)
        _, state, logits = self._read(self.burn_in, state, None)
        return state, logits

    def evaluate(self, threads: int) -> float:
        """Held-out nats/char, on ``threads`` threads (not timed, so the
        count need not be training's; training's is restored after)."""
        training_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        self.net.eval()
        try:
            state, _ = self._start()
            total, _, _ = self._read(self.heldout[:-1], state, self.heldout[1:])
        finally:
            self.net.train()
            torch.set_num_threads(training_threads)
        return total / (len(self.heldout) - 1)

    @torch.no_grad()
    def sample(self, n: int) -> str:
        """n characters drawn (temperature 1) from the start state."""
        self.net.eval()
        generator = torch.Generator().manual_seed(0)
        state, logits = self._start()
        out = []
        for _ in range(n):
            probs = torch.softmax(logits[-1, 0].double(), dim=0)
            x = int(torch.multinomial(probs, 1, generator=generator))
            out.append(x)
            logits, state = self.net(torch.tensor([[x]]), state)
        self.net.train()
        return "".join(self.chars[i] for i in out)
