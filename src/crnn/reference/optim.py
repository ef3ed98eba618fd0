"""Reference optimizers, gradient clipping and learning-rate schedules.

Written from the equations of PyTorch's torch.optim documentation (SGD,
RMSprop, Adam, AdamW), torch.nn.utils.clip_grad_norm_, and min-char-rnn
(Adagrad).  Every function is pure: it returns new arrays and never changes
its arguments.  ``t`` is the step number, counting from 1.  ``state`` maps
buffer names (those of crnn.optim) to arrays; a missing buffer starts at 0.
"""

from __future__ import annotations

import math

import numpy as np


def _buf(state, name, like):
    return np.array(state[name], copy=True) if name in state else np.zeros_like(like)


def adagrad(p, state, g, lr, *, eps=1e-8):
    """min-char-rnn: m += g^2;  p -= lr g / sqrt(m + eps)."""
    s = _buf(state, "sum", p) + g * g
    return p - lr * g / np.sqrt(s + eps), {"sum": s}


def sgd(p, state, g, lr, t, *, momentum=0.0, dampening=0.0, weight_decay=0.0,
        nesterov=False):
    """torch.optim.SGD: g += wd p;  b = g (t = 1) or mu b + (1 - dampening) g;
    g = g + mu b (nesterov) or b;  p -= lr g."""
    g = g + weight_decay * p
    new = {}
    if momentum != 0:
        b = g.copy() if t == 1 else momentum * _buf(state, "momentum_buffer", p) + (1 - dampening) * g
        new["momentum_buffer"] = b
        g = g + momentum * b if nesterov else b
    return p - lr * g, new


def rmsprop(p, state, g, lr, *, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
            centered=False):
    """torch.optim.RMSprop: v = alpha v + (1 - alpha) g^2;  centered: the mean
    gradient ga = alpha ga + (1 - alpha) g and v~ = v - ga^2, else v~ = v;
    b = mu b + g / (sqrt(v~) + eps), p -= lr b (momentum), else
    p -= lr g / (sqrt(v~) + eps)."""
    g = g + weight_decay * p
    v = alpha * _buf(state, "square_avg", p) + (1 - alpha) * g * g
    new = {"square_avg": v}
    v_tilde = v
    if centered:
        ga = alpha * _buf(state, "grad_avg", p) + (1 - alpha) * g
        new["grad_avg"] = ga
        v_tilde = v - ga * ga
    step = g / (np.sqrt(v_tilde) + eps)
    if momentum > 0:
        b = momentum * _buf(state, "momentum_buffer", p) + step
        new["momentum_buffer"] = b
        step = b
    return p - lr * step, new


def adam(p, state, g, lr, t, *, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
         amsgrad=False, decoupled=False):
    """torch.optim.Adam (decoupled=True: AdamW, p *= 1 - lr wd first; else
    g += wd p);  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    m^ = m / (1 - b1^t);  v^ = v / (1 - b2^t) (AMSGrad: of max(vmax, v));
    p -= lr m^ / (sqrt(v^) + eps)."""
    b1, b2 = betas
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    m = b1 * _buf(state, "exp_avg", p) + (1 - b1) * g
    v = b2 * _buf(state, "exp_avg_sq", p) + (1 - b2) * g * g
    new = {"exp_avg": m, "exp_avg_sq": v}
    v_used = v
    if amsgrad:
        v_used = np.maximum(_buf(state, "max_exp_avg_sq", p), v)
        new["max_exp_avg_sq"] = v_used
    m_hat = m / (1 - b1 ** t)
    v_hat = v_used / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), new


def adamw(p, state, g, lr, t, *, weight_decay=1e-2, **settings):
    """torch.optim.AdamW: Adam with decoupled weight decay."""
    return adam(p, state, g, lr, t, weight_decay=weight_decay, decoupled=True, **settings)


UPDATES = {"adagrad": adagrad, "sgd": sgd, "rmsprop": rmsprop, "adam": adam, "adamw": adamw}
USES_STEP = {"sgd", "adam", "adamw"}


def update(name, p, state, g, lr, t, **settings):
    """One step of the named optimizer: (new params, new state)."""
    if name in USES_STEP:
        return UPDATES[name](p, state, g, lr, t, **settings)
    return UPDATES[name](p, state, g, lr, **settings)


# ---------------------------------------------------------------- clipping

def clip_by_value(g, limit):
    """Every element into [-limit, limit] (min-char-rnn's np.clip)."""
    return np.clip(g, -limit, limit)


def clip_by_norm(g, max_norm):
    """torch.nn.utils.clip_grad_norm_: g * min(1, max_norm / (||g|| + 1e-6)).
    Returns (clipped g, ||g|| before clipping)."""
    norm = math.sqrt(float(np.sum(np.asarray(g, dtype=np.float64) ** 2)))
    return g * min(1.0, max_norm / (norm + 1e-6)), norm


# ---------------------------------------------------------------- schedules
# Each gives the learning rate used by iteration `it` (0 for the first).

def constant_lr(base, it):
    return base


def step_lr(base, it, *, factor, every, start):
    """char-rnn's decay: the rate is multiplied by `factor` at iteration
    `start` and again every `every` iterations after it."""
    decays = 0 if it < start else (it - start) // every + 1
    return base * factor ** decays


def cosine_lr(base, it, *, total, floor=0.0):
    """Half a cosine from base down to floor * base over `total` iterations,
    then floor * base."""
    low = floor * base
    progress = min(it, total) / total
    return low + (base - low) * (1 + math.cos(math.pi * progress)) / 2


def warmup_lr(inner, base, it, *, iterations):
    """Linear warm-up over `iterations`: the inner schedule's rate times
    (it + 1) / iterations until that reaches 1."""
    return inner(base, it) * min(1.0, (it + 1) / iterations)
