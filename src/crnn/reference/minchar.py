"""Pure-NumPy reference of min-char-rnn, written from its equations (below).

This is deliberately slow and plain: loops over time steps, float64
everywhere, min-char-rnn's shapes.  The C kernels are checked against it.

Shapes (min-char-rnn's, with 1-D vectors instead of columns):

    Wxh (H, V)   Whh (H, H)   Why (V, H)   bh (H,)   by (V,)

Equations for one stream of T steps::

    h_t  = tanh(Wxh[:, x_t] + Whh h_{t-1} + bh)
    y_t  = Why h_t + by
    p_t  = softmax(y_t)
    loss = -sum_t log p_t[target_t]            (nats, summed over the chunk)
"""

import numpy as np

from ..data import chunk_start

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")


def as_f64_params(params):
    """A float64 copy of a dict of parameters (only the five named ones)."""
    return {k: np.array(params[k], dtype=np.float64) for k in PARAM_NAMES}


def random_params(rng, hidden_size, vocab_size, scale=0.01, bias_scale=0.0):
    """min-char-rnn's initialisation: N(0,1)*scale weights, biases N(0,1)*bias_scale."""
    H, V = hidden_size, vocab_size
    return {
        "Wxh": rng.standard_normal((H, V)) * scale,
        "Whh": rng.standard_normal((H, H)) * scale,
        "Why": rng.standard_normal((V, H)) * scale,
        "bh": rng.standard_normal(H) * bias_scale,
        "by": rng.standard_normal(V) * bias_scale,
    }


def softmax(y, temperature=1.0):
    """softmax(y / temperature), the maximum subtracted first."""
    z = np.asarray(y, dtype=np.float64) / temperature
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def loss_fun(inputs, targets, hprev, params):
    """min-char-rnn's lossFun for one stream.

    Returns (loss, grads, h_last, dh0): loss summed over the T steps (nats),
    grads a dict of UNclipped gradients keyed like ``params``, the hidden state
    after the last step and the gradient of the loss w.r.t. ``hprev``.
    """
    p = as_f64_params(params)
    Wxh, Whh, Why, bh, by = (p[k] for k in PARAM_NAMES)
    T = len(inputs)
    assert T == len(targets) and T > 0

    # forward: keep every h_t and p_t for the backward pass
    hs = {-1: np.array(hprev, dtype=np.float64)}
    ps = {}
    loss = 0.0
    for t in range(T):
        hs[t] = np.tanh(Wxh[:, inputs[t]] + Whh @ hs[t - 1] + bh)
        y = Why @ hs[t] + by
        ps[t] = softmax(y)
        # -log softmax(y)[target], written as log-sum-exp for accuracy
        m = np.max(y)
        loss += (m + np.log(np.sum(np.exp(y - m)))) - y[targets[t]]

    # backward through time
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dh_next = np.zeros_like(hs[-1])
    for t in reversed(range(T)):
        dy = ps[t].copy()
        dy[targets[t]] -= 1.0  # d loss_t / d y_t = p_t - onehot(target_t)
        g["Why"] += np.outer(dy, hs[t])
        g["by"] += dy
        dh = Why.T @ dy + dh_next
        draw = (1.0 - hs[t] * hs[t]) * dh  # through tanh
        g["bh"] += draw
        g["Wxh"][:, inputs[t]] += draw
        g["Whh"] += np.outer(draw, hs[t - 1])
        dh_next = Whh.T @ draw
    return float(loss), g, hs[T - 1], dh_next


def loss_fun_batch(inputs, targets, h0, params):
    """B independent streams: inputs, targets (B, T); h0 (B, H).

    The loss is the MEAN over streams of each stream's summed loss, so the
    gradients are the mean of the per-stream gradients and dh0[b] is the
    per-stream gradient divided by B.  Returns (loss, grads, h_last, dh0).
    """
    inputs = np.asarray(inputs)
    targets = np.asarray(targets)
    B = inputs.shape[0]
    loss = 0.0
    grads = {k: np.zeros(np.shape(params[k])) for k in PARAM_NAMES}
    h_last = np.zeros(np.shape(h0))
    dh0 = np.zeros(np.shape(h0))
    for b in range(B):
        lb, gb, hb, dhb = loss_fun(list(inputs[b]), list(targets[b]), h0[b], params)
        loss += lb / B
        for k in PARAM_NAMES:
            grads[k] += gb[k] / B
        h_last[b] = hb
        dh0[b] = dhb / B
    return loss, grads, h_last, dh0


def clip(g, limit):
    """Element-wise clip to [-limit, limit]; NaN stays NaN."""
    g = np.asarray(g)
    return np.where(np.isnan(g), g, np.minimum(np.maximum(g, -limit), limit))


def adagrad(param, mem, grad, learning_rate, eps=1e-8):
    """One Adagrad step; returns (new_param, new_mem), inputs untouched."""
    mem = mem + grad * grad
    param = param - learning_rate * grad / np.sqrt(mem + eps)
    return param, mem


def choose(p, u):
    """Inverse-CDF choice: the first i with cumsum(p)[i] > u.

    If rounding leaves u beyond the total, the last index with p > 0."""
    p = np.asarray(p, dtype=np.float64)
    i = int(np.searchsorted(np.cumsum(p), u, side="right"))
    last = int(np.flatnonzero(p > 0)[-1])
    return min(i, last)


def sample_step_probs(params, h, x, temperature):
    """One sampling step: (new h, distribution of the next id).

    For temperature 0 the distribution is one-hot on argmax(y) (first on ties).
    """
    p = as_f64_params(params)
    h = np.tanh(p["Wxh"][:, x] + p["Whh"] @ h + p["bh"])
    y = p["Why"] @ h + p["by"]
    if temperature == 0:
        probs = np.zeros_like(y)
        probs[int(np.argmax(y))] = 1.0
    else:
        probs = softmax(y, temperature)
    return h, probs


def sample_reference(params, h, x0, uniforms, temperature):
    """min-char-rnn's sample(): feed x0, then each sampled id in turn.

    One id per uniform.  Returns (ids, h) where h is the state after the
    last step (the last sampled id is not fed back)."""
    h = np.array(h, dtype=np.float64)
    x = int(x0)
    ids = []
    for u in uniforms:
        h, probs = sample_step_probs(params, h, x, temperature)
        x = choose(probs, u)
        ids.append(x)
    return np.array(ids, dtype=np.int32), h


def train_reference(data, params, n_iters, seq_length=25, learning_rate=0.1,
                    clip_value=5.0, eps=1e-8, state=None):
    """min-char-rnn's training loop (without the periodic sampling).

    data: sequence of ids; params: dict (copied, not modified).  Pass the
    returned dict back as ``state`` to continue.  Returns a dict with params,
    mem, h, p (data pointer), n (iterations done), smooth_loss and losses.
    """
    V = np.shape(params["Wxh"])[1]
    H = np.shape(params["Whh"])[0]
    if state is None:
        state = {
            "params": as_f64_params(params),
            "mem": {k: np.zeros(np.shape(params[k])) for k in PARAM_NAMES},
            "h": np.zeros(H),
            "p": 0,
            "n": 0,
            "smooth_loss": -np.log(1.0 / V) * seq_length,
            "losses": [],
        }
    else:
        state = {k: (dict(v) if isinstance(v, dict) else v) for k, v in state.items()}
        state["losses"] = list(state["losses"])
    P, M = state["params"], state["mem"]
    for _ in range(n_iters):
        p, reset = chunk_start(state["p"], seq_length, len(data), first=state["n"] == 0)
        state["p"] = p
        if reset:
            state["h"] = np.zeros(H)  # reset the memory (p is back at the start of the data)
        inputs = list(data[p:p + seq_length])
        targets = list(data[p + 1:p + seq_length + 1])
        loss, grads, state["h"], _ = loss_fun(inputs, targets, state["h"], P)
        state["smooth_loss"] = state["smooth_loss"] * 0.999 + loss * 0.001
        state["losses"].append(loss)
        for k in PARAM_NAMES:
            P[k], M[k] = adagrad(P[k], M[k], clip(grads[k], clip_value), learning_rate, eps)
        state["p"] += seq_length
        state["n"] += 1
    return state


# ---------------------------------------------------------------------------
# crnn's flat parameter layout (documented in crnn/_kernels.pyi), written out
# here independently so the tests do not rely on crnn.param_views to be right:
#     WxhT (V, H) | Whh (H, H) | Why (V, H) | bh (H,) | by (V,)

def flat_size(hidden_size, vocab_size):
    H, V = hidden_size, vocab_size
    return V * H + H * H + V * H + H + V


def from_flat(flat, hidden_size, vocab_size):
    """min-char-rnn-shaped float64 copies of the parameters in a flat buffer."""
    H, V = hidden_size, vocab_size
    flat = np.asarray(flat, dtype=np.float64)
    assert flat.shape == (flat_size(H, V),)
    sizes = [V * H, H * H, V * H, H, V]
    WxhT, Whh, Why, bh, by = np.split(flat, np.cumsum(sizes)[:-1])
    return {
        "Wxh": WxhT.reshape(V, H).T.copy(),
        "Whh": Whh.reshape(H, H).copy(),
        "Why": Why.reshape(V, H).copy(),
        "bh": bh.copy(),
        "by": by.copy(),
    }


def to_flat(params, dtype=np.float64):
    """The flat buffer holding a dict of min-char-rnn-shaped parameters."""
    parts = [np.asarray(params["Wxh"]).T, params["Whh"], params["Why"], params["bh"], params["by"]]
    return np.concatenate([np.ravel(x) for x in parts]).astype(dtype)


def trace_reference(params, h0, ids):
    """What crnn.viz.trace reports, one step at a time: (probs, states) with
    probs[j] the prediction of ids[j] (softmax(Why h + by) of the state
    before it; h0 for j = 0) and states[j] the state after reading ids[j]."""
    p = as_f64_params(params)
    h = np.array(h0, dtype=np.float64)
    probs, states = [], []
    for x in ids:
        probs.append(softmax(p["Why"] @ h + p["by"]))
        h = np.tanh(p["Wxh"][:, int(x)] + p["Whh"] @ h + p["bh"])
        states.append(h)
    return np.array(probs), np.array(states)

def rel_err(a, b, tiny=1e-300):
    """max|a - b| / max|b|: an error relative to the scale of the reference b.

    Robust to tiny elements (they are measured against the largest one); if b
    is all zeros any difference counts as huge.  Shapes must match."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.size == 0:
        return 0.0
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if not np.array_equal(nan_a, nan_b):
        return float("inf")  # NaN where the reference has none, or vice versa
    a, b = a[~nan_b], b[~nan_b]
    if a.size == 0:
        return 0.0
    if not np.array_equal(np.isinf(a), np.isinf(b)) or np.any(a[np.isinf(b)] != b[np.isinf(b)]):
        return float("inf")
    a, b = a[np.isfinite(b)], b[np.isfinite(b)]
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), tiny))
