"""Dtypes, tolerances and a byte-exact comparison shared by the test_kernels*.py files."""

import numpy as np

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
TOL = {F32: 1e-4, F64: 1e-12}


def same_bytes(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
