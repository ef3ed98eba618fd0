"""Parity figures of the network kernels: the largest relative errors against
crnn.reference.cells (every CPU path, both dtypes) and against PyTorch's
nn.RNN / nn.LSTM / nn.GRU + nn.Linear in float64 (if torch is importable).

    PYTHONPATH=src python benchmarks/parity_cells.py

The cases are those of tests/test_cells.py (the sizes SIZES, 1 to 3 layers,
dropout masks between layers) and tests/test_cells_torch.py (B=3, T=7, H=10,
V=8, 1 and 2 layers); the error is max|a - b| / max|b| over the loss, every
gradient, the start-state gradient, the states and the probabilities; the
table gives the worst per cell, depth and dtype.
"""
import importlib.util
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]
import test_cells as C  # noqa: E402
from crnn import _kernels as K  # noqa: E402
from crnn.reference import cells as R  # noqa: E402


def reference_errors():
    worst = defaultdict(float)
    in_use = K.cpu_path()
    for isa in ("baseline", "avx2", "avx512"):
        if K.set_cpu_path(isa) != isa:
            continue
        rng = np.random.default_rng(7)
        for dtype in (C.F64, C.F32):
            for cell in C.CELLS:
                for L in (1, 2, 3):
                    for B, T, H, V in C.SIZES:
                        case = C.make_case(rng, cell, L, B, T, H, V, dtype)
                        got = C.run(*case, cell, L, H, V)
                        ref = R.forward_backward(case[0], cell, L, H, V, *case[1:])
                        errs = [abs(got["loss"] - ref["loss"]) / abs(ref["loss"])]
                        errs += [C.relerr(got[k], ref[k]) for k in C.COMPARED]
                        key = (isa, dtype.name, cell, L)
                        worst[key] = max(worst[key], *errs)
    K.set_cpu_path(in_use)
    return worst


def torch_errors():
    if importlib.util.find_spec("torch") is None:
        return {}
    import test_cells_torch as CT
    worst = {}
    rng = np.random.default_rng(11)
    for cell in C.CELLS:
        for L in (1, 2):
            (loss, grads, dstate0), (t_loss, t_grads, t_dstate0) = CT.crnn_and_torch(cell, L, rng)
            worst[("torch", "float64", cell, L)] = max(
                abs(loss - t_loss) / abs(t_loss), C.relerr(grads, t_grads),
                C.relerr(dstate0, t_dstate0))
    return worst


def main():
    rows = {**reference_errors(), **torch_errors()}
    print(f"{'against':10} {'dtype':8} {'cell':5} {'layers':>6}  max rel err")
    for (against, dtype, cell, L), err in sorted(rows.items()):
        print(f"{against:10} {dtype:8} {cell:5} {L:6}  {err:10.2e}")


if __name__ == "__main__":
    main()
