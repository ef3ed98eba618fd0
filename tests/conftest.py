"""Shared fixtures for the crnn test suite.

The tests run against the INSTALLED package (``pip install '.[test]'``), so
nothing here touches sys.path.  ``crnn._kernels`` is imported lazily inside
the fixtures that need it, so tests of other modules still collect when the
extension is unavailable.
"""

import numpy as np
import pytest

from crnn.reference import minchar as ref


@pytest.fixture
def rng():
    """A fresh, fixed-seed generator for each test (reproducible failures)."""
    return np.random.default_rng(20150521)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    """Run the test for both float dtypes the kernels support."""
    return np.dtype(request.param)


@pytest.fixture
def make_params():
    """Factory: random parameters as one flat buffer in crnn's layout.

    ``make_params(rng, H, V, dtype, scale=0.3, bias_scale=0.1)`` draws
    min-char-rnn-shaped N(0,1)*scale weights (biases N(0,1)*bias_scale) and
    writes them through ``crnn._kernels.param_views`` into a buffer of
    ``param_count(H, V)`` elements.
    """
    from crnn import _kernels

    def make(rng, H, V, dtype=np.float64, scale=0.3, bias_scale=0.1):
        flat = np.zeros(_kernels.param_count(H, V), dtype=dtype)
        views = _kernels.param_views(flat, H, V)
        for name, value in ref.random_params(rng, H, V, scale, bias_scale).items():
            views[name][...] = value
        return flat

    return make


ISA_PATHS = ("baseline", "avx2", "avx512")


@pytest.fixture(params=ISA_PATHS)
def isa(request):
    """Run the test on each instruction-set path of the kernels this CPU has.

    Uses ``crnn._kernels.set_cpu_path`` (it never selects more than the CPU
    supports: a path it cannot select is skipped) and restores the path that
    was active before.
    """
    from crnn import _kernels

    if not hasattr(_kernels, "set_cpu_path"):
        if request.param != "baseline":
            pytest.skip("this build has a single kernel path")
        yield request.param
        return
    before = _kernels.cpu_path()
    try:
        got = _kernels.set_cpu_path(request.param)
        if got != request.param:
            pytest.skip(f"CPU path {request.param} not available here (got {got})")
        yield got
    finally:
        _kernels.set_cpu_path(before)
