"""Which default learning rate for SGD?  (The experiment behind crnn.optim's 3e-3.)

    PYTHONPATH=src python benchmarks/sgd_default_lr.py [ITERATIONS, default 3000]

min-char-rnn's setup (H=100, T=25, B=1, clip by value 5, float64) on
tinyshakespeare (../shared/data, first 90% for training), straight through
the kernels and crnn.optim; prints the loss per character on 20000 held-out
characters for a few optimizers and rates.
"""
import sys, time
from pathlib import Path

import numpy as np
from crnn import _kernels as K, optim

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
text = CORPUS.read_text()
chars = sorted(set(text)); idx = {c: i for i, c in enumerate(chars)}
ids = np.array([idx[c] for c in text], np.int32)
split = int(len(ids) * 0.9); train, val = ids[:split], ids[split:split + 20000]
H, V, T, B = 100, len(chars), 25, 1
N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
def run(name, lr, **settings):
    rng = np.random.default_rng(0)
    P = K.param_count(H, V)
    params = np.zeros(P); views = K.param_views(params, H, V)
    for k in ("Wxh", "Whh", "Why"): views[k][...] = rng.standard_normal(views[k].shape) * 0.01
    opt = optim.make_optimizer(name, P, np.float64, **settings)
    grads = np.zeros(P); work = np.zeros(K.train_workspace_size(B, T, H, V))
    h = np.zeros((B, H)); hl = np.zeros((B, H)); dh0 = np.zeros((B, H)); pos = 0
    for it in range(N):
        if pos + T + 1 >= len(train): pos = 0; h[:] = 0
        x = train[pos:pos + T][None].copy(); y = train[pos + 1:pos + T + 1][None].copy()
        K.forward(work, hl, params, x, y, h)
        grads[:] = 0; K.backward(grads, dh0, work, params, x, y)
        opt.step(params, grads, lr, clip="value", clip_value=5.0)
        h[:] = hl; pos += T
    # validation: one pass, chunks of T, carrying h
    h = np.zeros((1, H)); tot = 0.0; n = 0
    wf = np.zeros(K.forward_workspace_size(1, T, H, V))
    for p in range(0, len(val) - T - 1, T):
        x = val[p:p + T][None].copy(); y = val[p + 1:p + T + 1][None].copy()
        tot += K.forward(wf, hl, params, x, y, h); h[:] = hl; n += T
    return tot / n
for name, lr, s in [("adagrad", 0.1, {}), ("adam", 2e-3, {}),
                    ("sgd", 0.003, {}), ("sgd", 0.005, {}), ("sgd", 0.01, {}), ("sgd", 0.02, {}),
                    ("sgd", 0.001, {"momentum": 0.9})]:
    t = time.time(); loss = run(name, lr, **s)
    print(f"{name:8} lr={lr:<6} {s}  val loss/char {loss:.4f}  ({time.time()-t:.0f}s)", flush=True)
