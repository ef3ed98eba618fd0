"""Reference forward, backward and sampling of a stacked network.

Equations (PyTorch's; x one-hot for layer 0, else the layer below's h times
its dropout mask; W_ih (G*H, in), W_hh (G*H, H) in PyTorch's shapes)::

    rnn:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)     (crnn stores one bias: b_hh = 0)
    lstm: i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh)
          c' = sigmoid(f) * c + sigmoid(i) * tanh(g);  h' = sigmoid(o) * tanh(c')
    gru:  gi = W_ih x + b_ih;  gh = W_hh h + b_hh   (chunks r, z, n)
          r = sigmoid(gi_r + gh_r);  z = sigmoid(gi_z + gh_z)
          n = tanh(gi_n + r * gh_n);  h' = (1 - z) * n + z * h
    out:  y = W_out h_top + b_out;  p = softmax(y)
    loss = (1/B) sum_b sum_t -log p_t[target_t]

Parameters are a flat buffer in crnn's layout (read through
crnn.netparams.views); gradients are returned in the same layout.
"""

import numpy as np

from crnn import netparams


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _layers(flat, cell, L, H, V):
    """Per layer (W_ih, W_hh, b_ih, b_hh) in PyTorch's shapes, float64, and
    (W_out, b_out)."""
    v = {k: np.asarray(a, dtype=np.float64)
         for k, a in netparams.views(np.asarray(flat), cell, L, H, V).items()}
    layers = []
    for l in range(L):
        w_ih = v["weight_ih_T_l0"].T if l == 0 else v[f"weight_ih_l{l}"]
        if cell == "rnn":
            b_ih, b_hh = v[f"bias_l{l}"], np.zeros(H)
        else:
            b_ih, b_hh = v[f"bias_ih_l{l}"], v[f"bias_hh_l{l}"]
        layers.append((w_ih, v[f"weight_hh_l{l}"], b_ih, b_hh))
    return layers, (v["weight_out"], v["bias_out"])


def _step(cell, p, x, h, c):
    """One step of one layer; returns (h', c', cache for the backward)."""
    w_ih, w_hh, b_ih, b_hh = p
    H = h.shape[0]
    if cell == "rnn":
        hn = np.tanh(w_ih @ x + b_ih + w_hh @ h + b_hh)
        return hn, None, (x, h, hn)
    if cell == "lstm":
        a = w_ih @ x + b_ih + w_hh @ h + b_hh
        i, f = sigmoid(a[:H]), sigmoid(a[H:2 * H])
        g, o = np.tanh(a[2 * H:3 * H]), sigmoid(a[3 * H:])
        cn = f * c + i * g
        hn = o * np.tanh(cn)
        return hn, cn, (x, h, c, i, f, g, o, cn)
    gi = w_ih @ x + b_ih
    gh = w_hh @ h + b_hh
    r = sigmoid(gi[:H] + gh[:H])
    z = sigmoid(gi[H:2 * H] + gh[H:2 * H])
    n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
    hn = (1 - z) * n + z * h
    return hn, None, (x, h, r, z, n, gh[2 * H:])


def _step_backward(cell, p, cache, dh, dc, g):
    """Adds this step's parameter gradients to g (dict of arrays shaped like
    p); returns (dx, dh_prev, dc_prev)."""
    w_ih, w_hh, _, _ = p
    if cell == "rnn":
        x, h, hn = cache
        da = dh * (1 - hn * hn)
        da_ih = da_hh = da
    elif cell == "lstm":
        x, h, c, i, f, gg, o, cn = cache
        tc = np.tanh(cn)
        dc = dc + dh * o * (1 - tc * tc)
        da = np.concatenate([dc * gg * i * (1 - i), dc * c * f * (1 - f),
                             dc * i * (1 - gg * gg), dh * tc * o * (1 - o)])
        da_ih = da_hh = da
        dc_prev = dc * f
    else:
        x, h, r, z, n, ghn = cache
        dn = dh * (1 - z) * (1 - n * n)
        dr = dn * ghn * r * (1 - r)
        dz = dh * (h - n) * z * (1 - z)
        da_ih = np.concatenate([dr, dz, dn])
        da_hh = np.concatenate([dr, dz, dn * r])
    g["w_ih"] += np.outer(da_ih, x)
    g["w_hh"] += np.outer(da_hh, h)
    g["b_ih"] += da_ih
    g["b_hh"] += da_hh
    dx = w_ih.T @ da_ih
    dh_prev = w_hh.T @ da_hh
    if cell == "gru":
        dh_prev = dh_prev + dh * z
    return dx, dh_prev, (dc_prev if cell == "lstm" else None)


def forward_backward(flat, cell, num_layers, hidden_size, vocab_size, inputs,
                     targets, state0, masks=None):
    """Loss and gradients of a chunk.

    inputs, targets (B, T) ids; state0 (L, B, S) with S = H, or 2H for the
    LSTM ([h | c]); masks (L-1, T, B, H) multiply each layer's output on its
    way to the next layer (dropout), or None.  targets None: forward only.
    Returns a dict: loss, grads (flat, crnn's layout), state (L, B, S) after
    the last step, dstate0 (L, B, S), probs (T, B, V), states (T, L, B, S).
    """
    cell = netparams._cell_name(cell)
    L, H, V = num_layers, hidden_size, vocab_size
    layers, (w_out, b_out) = _layers(flat, cell, L, H, V)
    inputs = np.asarray(inputs)
    B, T = inputs.shape
    state0 = np.asarray(state0, dtype=np.float64)
    lstm = cell == "lstm"
    S = 2 * H if lstm else H
    loss = 0.0
    probs = np.zeros((T, B, V))
    states = np.zeros((T, L, B, S))
    state = np.zeros((L, B, S))
    grads = [{k: np.zeros_like(a) for k, a in zip(("w_ih", "w_hh", "b_ih", "b_hh"), p)}
             for p in layers]
    g_out = {"w": np.zeros_like(w_out), "b": np.zeros_like(b_out)}
    dstate0 = np.zeros((L, B, S))
    for b in range(B):
        h = [state0[l, b, :H].copy() for l in range(L)]
        c = [state0[l, b, H:].copy() if lstm else None for l in range(L)]
        caches = [[None] * L for _ in range(T)]
        dys, tops = [], []
        for t in range(T):
            x = np.zeros(V)
            x[inputs[b, t]] = 1.0
            for l in range(L):
                h[l], c[l], caches[t][l] = _step(cell, layers[l], x, h[l], c[l])
                states[t, l, b, :H] = h[l]
                if lstm:
                    states[t, l, b, H:] = c[l]
                x = h[l] * (masks[l, t, b] if masks is not None and l < L - 1 else 1.0)
            y = w_out @ h[L - 1] + b_out
            m = np.max(y)
            e = np.exp(y - m)
            probs[t, b] = e / e.sum()
            tops.append(h[L - 1])
            if targets is not None:
                loss += (m + np.log(e.sum()) - y[targets[b, t]]) / B
                dy = probs[t, b].copy()
                dy[targets[b, t]] -= 1.0
                dys.append(dy / B)
        for l in range(L):
            state[l, b, :H] = h[l]
            if lstm:
                state[l, b, H:] = c[l]
        if targets is None:
            continue
        # backward through time and layers
        dh = [np.zeros(H) for _ in range(L)]
        dc = [np.zeros(H) for _ in range(L)]
        for t in reversed(range(T)):
            g_out["w"] += np.outer(dys[t], tops[t])
            g_out["b"] += dys[t]
            d_from_above = w_out.T @ dys[t]
            for l in reversed(range(L)):
                total = dh[l] + d_from_above
                dx, dh[l], dcp = _step_backward(cell, layers[l], caches[t][l], total,
                                                dc[l], grads[l])
                if lstm:
                    dc[l] = dcp
                if l > 0:
                    d_from_above = dx * (masks[l - 1, t, b] if masks is not None else 1.0)
        for l in range(L):
            dstate0[l, b, :H] = dh[l]
            if lstm:
                dstate0[l, b, H:] = dc[l]
    return {"loss": loss, "grads": _flat_grads(grads, g_out, cell, L, H, V),
            "state": state, "dstate0": dstate0, "probs": probs, "states": states}


def _flat_grads(grads, g_out, cell, L, H, V):
    flat = np.zeros(netparams.param_count(cell, L, H, V))
    v = netparams.views(flat, cell, L, H, V)
    for l, g in enumerate(grads):
        if l == 0:
            v["weight_ih_T_l0"][...] = g["w_ih"].T
        else:
            v[f"weight_ih_l{l}"][...] = g["w_ih"]
        v[f"weight_hh_l{l}"][...] = g["w_hh"]
        if cell == "rnn":
            v[f"bias_l{l}"][...] = g["b_ih"]
        else:
            v[f"bias_ih_l{l}"][...] = g["b_ih"]
            v[f"bias_hh_l{l}"][...] = g["b_hh"]
    v["weight_out"][...] = g_out["w"]
    v["bias_out"][...] = g_out["b"]
    return flat


def sample(flat, cell, num_layers, hidden_size, vocab_size, state, x0, uniforms,
           temperature):
    """Ids drawn like crnn_sample: feed x0, then each drawn id; step i draws
    the first id whose cumulative probability under softmax(y / temperature)
    exceeds uniforms[i] (temperature 0: the first most likely id).  state
    (L, 1, S) is not modified; returns (ids, final state)."""
    cell = netparams._cell_name(cell)
    L, H, V = num_layers, hidden_size, vocab_size
    layers, (w_out, b_out) = _layers(flat, cell, L, H, V)
    state = np.array(state, dtype=np.float64)
    h = [state[l, 0, :H].copy() for l in range(L)]
    c = [state[l, 0, H:].copy() if cell == "lstm" else None for l in range(L)]
    out, x_id = [], x0
    for u in uniforms:
        x = np.zeros(V)
        x[x_id] = 1.0
        for l in range(L):
            h[l], c[l], _ = _step(cell, layers[l], x, h[l], c[l])
            x = h[l]
        y = w_out @ h[L - 1] + b_out
        if temperature == 0:
            x_id = int(np.argmax(y))
        else:
            e = np.exp((y - np.max(y)) / temperature)
            cum = np.cumsum(e)
            above = np.nonzero(cum > u * cum[-1])[0]
            x_id = int(above[0]) if len(above) else int(np.nonzero(e > 0)[0][-1])
        out.append(x_id)
    for l in range(L):
        state[l, 0, :H] = h[l]
        if cell == "lstm":
            state[l, 0, H:] = c[l]
    return np.array(out, dtype=np.int32), state
