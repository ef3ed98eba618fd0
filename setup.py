"""Build the C kernels and their Cython wrapper as the extension crnn._kernels.

Environment switches:
  CRNN_DEBUG=1     -O0 -g and Cython bounds/wraparound checks on
  CRNN_SANITIZE=1  additionally -fsanitize=address,undefined (see scripts/)
"""

import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("CRNN_DEBUG") == "1"
SANITIZE = os.environ.get("CRNN_SANITIZE") == "1"

sources = ["src/crnn/_kernels.pyx"] + [
    f"csrc/{name}.c" for name in ("layout", "dispatch", "kernels_f64", "kernels_f32")
]

if sys.platform == "win32":
    compile_args = ["/O2"]
    link_args = []
else:
    # No -march=native and no -ffast-math: the wheel must run on any x86-64
    # and compute what the reference computes.  Speed on modern CPUs comes from
    # runtime dispatch inside the kernels (see csrc/crnn_simd.h).
    compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
    # fp-contract lets the AVX2/AVX-512 variants fuse multiply-adds.
    compile_args += ["-std=c99", "-fno-math-errno", "-ffp-contract=fast"]
    link_args = []
    if SANITIZE:
        flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
        compile_args += flags
        link_args += flags

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
}

ext = Extension(
    "crnn._kernels",
    sources=sources,
    include_dirs=["csrc", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)

setup(ext_modules=cythonize([ext], compiler_directives=directives))
