"""Build the C kernels and their Cython wrapper as the extension crnn._kernels.

Environment switches:
  CRNN_DEBUG=1     -O0 -g and Cython bounds/wraparound checks on
  CRNN_SANITIZE=1  additionally -fsanitize=address,undefined (see scripts/)
  CRNN_OPENMP=0    build without OpenMP (the kernels then use one thread)
  CRNN_PLAIN_LOOPS=1  the plain-loop fallback instead of the vector code
                   (-DCRNN_NO_VECTOR_EXT; what compilers without GCC/Clang
                   vector extensions get; scripts/plain_loops.sh tests it)
"""

import glob
import os
import sys
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import PlatformError

DEBUG = os.environ.get("CRNN_DEBUG") == "1"
SANITIZE = os.environ.get("CRNN_SANITIZE") == "1"

sources = ["src/crnn/_kernels.pyx"] + [
    f"csrc/{name}.c" for name in ("layout", "dispatch", "kernels_f64", "kernels_f32",
                                    "net_layout", "net_f64", "net_f32")
] + ["csrc/optim/optim_f64.c", "csrc/optim/optim_f32.c"]

if sys.platform == "win32":
    compile_args = ["/O2"]
    link_args = []
else:
    # No -march=native and no -ffast-math: the wheel must run on any x86-64
    # and compute what the reference computes.  Speed on modern CPUs comes from
    # runtime dispatch inside the kernels (csrc/isa_variants.h, csrc/dispatch.c).
    compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
    # fp-contract lets the AVX2/AVX-512 variants fuse multiply-adds.
    compile_args += ["-std=c99", "-fno-math-errno", "-ffp-contract=fast"]
    link_args = []
    if SANITIZE:
        flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
        compile_args += flags
        link_args += flags


OPENMP_PROBE = """
#include <omp.h>
int main(void)
{
    int n = 0;
#pragma omp parallel num_threads(2) reduction(+ : n)
    n += omp_get_num_threads() > 0;
    return n > 0 ? 0 : 1;
}
"""


NEEDS_COMPILER = (
    "building crnn from source needs a C compiler (gcc or clang; on Windows the "
    "MSVC Build Tools) and the Python headers. Debian/Ubuntu: sudo apt-get install "
    "build-essential python3-dev; Fedora: sudo dnf install gcc python3-devel; "
    "macOS: xcode-select --install"
)


class BuildExt(build_ext):
    """build_ext that adds OpenMP flags when this compiler can build and link
    an OpenMP program; without them the kernels still build (one thread).
    Without a working compiler it stops at once with what to install."""

    def build_extensions(self):
        self.check_compiler()
        cflags, lflags = self.openmp_flags()
        for e in self.extensions:
            e.extra_compile_args = list(e.extra_compile_args or []) + cflags
            e.extra_link_args = list(e.extra_link_args or []) + lflags
        super().build_extensions()

    def check_compiler(self):
        """Compile a file that includes Python.h: no compiler or no headers
        would otherwise end in a bare "No such file or directory"."""
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "compiler_probe.c")
            with open(src, "w") as f:
                f.write("#include <Python.h>\nint crnn_probe(void) { return 0; }\n")
            try:
                self.compiler.compile([src], output_dir=tmp)
            except Exception as exc:  # CompileError (a missing program included)
                raise PlatformError(f"{NEEDS_COMPILER} (test compile: {exc})") from None

    def openmp_flags(self):
        if os.environ.get("CRNN_OPENMP") == "0":
            return [], []
        if self.compiler.compiler_type == "msvc":
            candidates = [(["/openmp"], [])]
        else:
            candidates = [(["-fopenmp"], ["-fopenmp"])]
        for cflags, lflags in candidates:
            with tempfile.TemporaryDirectory() as tmp:
                src = os.path.join(tmp, "openmp_probe.c")
                with open(src, "w") as f:
                    f.write(OPENMP_PROBE)
                try:
                    objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                    self.compiler.link_executable(objs, os.path.join(tmp, "openmp_probe"),
                                                  extra_postargs=lflags)
                except Exception:  # CompileError, LinkError: no usable OpenMP
                    continue
            print(f"crnn: building with OpenMP ({' '.join(cflags)})")
            return cflags, lflags
        print("crnn: OpenMP not available; the kernels will use one thread")
        return [], []


directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
}

macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if os.environ.get("CRNN_PLAIN_LOOPS") == "1":
    macros.append(("CRNN_NO_VECTOR_EXT", "1"))

ext = Extension(
    "crnn._kernels",
    sources=sources,
    include_dirs=["csrc", numpy.get_include()],
    # headers hold the kernel templates: a change to one rebuilds the sources
    depends=sorted(glob.glob("csrc/*.h") + glob.glob("csrc/layers/*.h") + glob.glob("csrc/optim/*.h")
                   + glob.glob("csrc/ops/*.h")),
    define_macros=macros,
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)

setup(ext_modules=cythonize([ext], compiler_directives=directives),
      cmdclass={"build_ext": BuildExt})
