"""Parity figures of crnn.optim: the largest relative errors against
crnn.reference.optim (every CPU path) and against torch.optim (if installed).

    PYTHONPATH=src python benchmarks/parity_optim.py

Same cases as tests/test_optim.py and tests/test_optim_torch.py (20 steps,
n = 1003, clipping none / value / norm); the error is max|a - b| / max|b| of
the parameters, of the displacement p - p0 and of every state buffer; the
table gives the worst of them per optimizer.
"""
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]
from crnn.reference import minchar as ref  # noqa: E402  (rel_err)
import test_optim as T  # noqa: E402
from crnn import _kernels, optim  # noqa: E402


def reference_errors():
    worst = defaultdict(float)
    for isa in ("baseline", "avx2", "avx512"):
        if _kernels.set_cpu_path(isa) != isa:
            continue
        for dtype in (T.F64, T.F32):
            rng = np.random.default_rng(5)
            for name, settings in T.CONFIGS:
                for clip, value in T.CLIPS:
                    n = 1003
                    p0 = rng.standard_normal(n)
                    gs = T.gradients(rng, n)
                    if dtype == T.F32:
                        p0 = p0.astype(T.F32).astype(T.F64)
                        gs = [g.astype(T.F32).astype(T.F64) for g in gs]
                    lrs = [optim.OPTIMIZERS[name].default_lr] * T.STEPS
                    rp, rs = T.run_reference(name, settings, p0, gs, lrs, clip, value)
                    p, opt = T.run_crnn(name, settings, p0, gs, lrs, clip, value, dtype)
                    errs = [ref.rel_err(p, rp)] + [ref.rel_err(opt.state[k], v)
                                                   for k, v in rs.items()]
                    if dtype == T.F64:
                        errs.append(ref.rel_err(p - p0, rp - p0))
                    key = (isa, dtype.name, name)
                    worst[key] = max(worst[key], max(errs))
    return worst


def torch_errors():
    try:
        import torch  # noqa: F401
    except ImportError:
        return {}
    import test_optim_torch as TT
    worst = defaultdict(float)
    for name, settings in TT.TORCH_CONFIGS:
        for clip, value in [("none", None), ("value", 0.8), ("norm", 1.5)]:
            rng = np.random.default_rng(7)
            n = 1003
            p0 = rng.standard_normal(n)
            gs = [rng.standard_normal(n) * rng.uniform(0.2, 2.0) for _ in range(TT.STEPS)]
            lr = optim.OPTIMIZERS[name].default_lr * 10
            p = p0.copy()
            ours = optim.make_optimizer(name, n, np.float64, **settings)
            param = torch.nn.Parameter(torch.tensor(p0))
            theirs = TT.torch_optimizer(name, settings, param, lr)
            for g in gs:
                ours.step(p, g, lr, clip=clip, clip_value=value)
                param.grad = torch.tensor(g)
                if clip == "norm":
                    torch.nn.utils.clip_grad_norm_([param], value)
                elif clip == "value":
                    torch.nn.utils.clip_grad_value_([param], value)
                theirs.step()
            want = param.detach().numpy()
            errs = [ref.rel_err(p, want), ref.rel_err(p - p0, want - p0)]
            errs += [ref.rel_err(v, theirs.state[param][k].numpy()) for k, v in ours.state.items()]
            worst[("torch", "float64", name)] = max(worst[("torch", "float64", name)], max(errs))
    return worst


def main():
    before = _kernels.cpu_path()
    rows = reference_errors()
    _kernels.set_cpu_path(before)
    rows.update(torch_errors())
    print(f"{'against':10} {'dtype':8} {'optimizer':9} {'max rel err':>12}")
    for (against, dtype, name), err in sorted(rows.items()):
        print(f"{against:10} {dtype:8} {name:9} {err:12.2e}")


if __name__ == "__main__":
    main()
