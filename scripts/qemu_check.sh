#!/usr/bin/env bash
# qemu_check.sh - prove an installed crnn runs on an x86-64 CPU without AVX.
#
# Runs the venv's own Python under qemu-x86_64 (user-mode emulation) with a
# CPU model that has no AVX (default Nehalem: SSE4.2, no AVX/AVX2/FMA; qemu
# raises an illegal-instruction fault for any AVX instruction on it), and
# there:
#   - checks that crnn._kernels.cpu_path() is 'baseline' (runtime dispatch
#     must not pick a variant the CPU lacks), while printing the native one;
#   - runs the kernel-versus-reference tests, the gradient checks, the
#     accuracy tests of the kernels' own exp/tanh and the kernels' property
#     tests (tests/test_kernels*.py, test_gradcheck.py, test_ops.py): every
#     kernel, both dtypes, on the baseline path (the tests of the AVX2/AVX-512
#     paths skip themselves there);
#   - trains a small model with `python -m crnn train` and samples from it.
#
# Usage: scripts/qemu_check.sh VENV [TESTS_DIR] [TEXT_FILE]
#   VENV       a virtual environment with crnn, pytest and their dependencies
#   TESTS_DIR  crnn's tests/ folder (default: tests/ beside this script)
#   TEXT_FILE  training text for the CLI run (default: a generated one)
# Environment: QEMU_CPU (default Nehalem), QEMU_TESTS (pytest arguments,
#   default "test_kernels.py test_kernels_train_step.py
#   test_kernels_sample.py test_kernels_arguments.py test_gradcheck.py
#   test_ops.py test_kernels_props.py"; files that do not exist are left out).
# Exit status: 0 passed, 1 failed, 3 skipped (qemu-x86_64 cannot be had).
# The last line is "qemu-result: ..." with a one-line summary.

set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${1:?usage: qemu_check.sh VENV [TESTS_DIR] [TEXT_FILE]}"
TESTS="${2:-$HERE/../tests}"
TEXT="${3:-}"
CPU="${QEMU_CPU:-Nehalem}"
DEFAULT_TESTS="test_kernels.py test_kernels_train_step.py test_kernels_sample.py test_kernels_arguments.py"
DEFAULT_TESTS+=" test_gradcheck.py test_ops.py test_kernels_props.py"
read -r -a SELECTED <<<"${QEMU_TESTS:-$DEFAULT_TESTS}"
unset CRNN_ISA PYTHONPATH PYTHONHOME

result() { echo "qemu-result: $*"; }

VENV="$(cd "$VENV" && pwd)" || { result "no venv at $1"; exit 1; }
TESTS="$(cd "$TESTS" && pwd)" || { result "no tests folder at $2"; exit 1; }
PY="$VENV/bin/python"

if [ "$(uname -m)" != x86_64 ]; then
    result "skipped: this machine is $(uname -m), not x86_64"
    exit 3
fi
if ! command -v qemu-x86_64 >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "qemu-x86_64 not found: installing Debian's qemu-user"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user; } \
            >/tmp/qemu-user-install.log 2>&1 || tail -5 /tmp/qemu-user-install.log
    fi
fi
if ! command -v qemu-x86_64 >/dev/null 2>&1; then
    result "skipped: qemu-x86_64 is not installed and could not be (needs apt-get as root: apt-get install qemu-user)"
    exit 3
fi
echo "$(qemu-x86_64 --version | head -1), -cpu $CPU"

# qemu-user runs the interpreter's real binary; a venv's bin/python is a
# symlink to it.  Python finds its venv (pyvenv.cfg) through argv[0], so the
# guest gets the venv path as argv[0] (-0) and the resolved binary to load.
REAL="$(readlink -f "$PY")"
Q=(qemu-x86_64 -cpu "$CPU" -0 "$PY" "$REAL")
# (qemu's own warnings, e.g. about CPU features TCG lacks, go to stderr.)
prefix="$("${Q[@]}" -c 'import sys; print(sys.prefix)' 2>/dev/null)"
if [ "$prefix" != "$VENV" ]; then
    result "FAILED: under qemu the interpreter's sys.prefix is '$prefix', not the venv $VENV"
    exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/crnn-qemu.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cp -r "$TESTS" "$WORK/tests"
for d in scripts benchmarks; do   # some tests read files beside tests/
    [ ! -d "$TESTS/../$d" ] || cp -r "$TESTS/../$d" "$WORK/$d"
done
cd "$WORK" || exit 1

# The emulated CPU must really lack AVX: an AVX2+FMA instruction has to
# fault there (if a C compiler is at hand to build the probe).
if command -v cc >/dev/null 2>&1; then
    cat >"$WORK/avx_probe.c" <<'EOF'
#include <immintrin.h>
#include <stdio.h>
__attribute__((target("avx2,fma"))) static double fused(double a)
{
    __m256d v = _mm256_set1_pd(a);
    double out[4];
    _mm256_storeu_pd(out, _mm256_fmadd_pd(v, v, v));
    return out[0];
}
int main(void) { printf("%g\n", fused(2.0)); return 0; }
EOF
    if cc -O1 -o "$WORK/avx_probe" "$WORK/avx_probe.c" 2>/dev/null; then
        # (an inner shell, so that its "Illegal instruction" notice is silenced)
        probe_rc="$(bash -c '"$@" >/dev/null 2>&1; echo $?' probe qemu-x86_64 -cpu "$CPU" "$WORK/avx_probe" 2>/dev/null)"
        if [ "$probe_rc" = 0 ]; then
            result "FAILED: an AVX2 instruction ran under -cpu $CPU; choose a CPU model without AVX"
            exit 1
        fi
        echo "an AVX2+FMA probe faults under -cpu $CPU (illegal instruction), as it should"
    fi
fi

native="$("$PY" -c 'import crnn._kernels as k; print(k.cpu_path())')"
emulated="$("${Q[@]}" -c 'import crnn, crnn._kernels as k; print(k.cpu_path())' 2>"$WORK/import.err")" ||
    cat "$WORK/import.err"
where="$("${Q[@]}" -c 'import crnn; print(crnn.__file__)' 2>/dev/null)"
echo "crnn under qemu imported from $where"
echo "CPU path: native '$native', under qemu -cpu $CPU '$emulated'"
if [ "$emulated" != baseline ]; then
    result "FAILED: cpu_path() under -cpu $CPU is '$emulated', expected 'baseline'"
    exit 1
fi

status=0
t=$SECONDS
args=()
for f in "${SELECTED[@]}"; do
    if [ -f "tests/$f" ]; then args+=("tests/$f"); else echo "(no tests/$f: left out)"; fi
done
if [ ${#args[@]} -eq 0 ]; then
    result "FAILED: none of the test files ${SELECTED[*]} exists in $TESTS"
    exit 1
fi
echo "pytest under qemu: ${args[*]} ..."
"${Q[@]}" -m pytest -p no:cacheprovider -q "${args[@]}" >"$WORK/pytest.log" 2>&1 || status=1
tally="$(grep -E '^=* *[0-9]+ (passed|failed|error)' "$WORK/pytest.log" | tail -1 | sed -E 's/^=+ *//; s/ *=+$//')"
[ "$status" = 0 ] || tail -40 "$WORK/pytest.log"
echo "pytest under qemu: ${tally:-no summary line} ($((SECONDS - t))s)"

t=$SECONDS
if [ -z "$TEXT" ]; then
    TEXT="$WORK/small.txt"
    for i in $(seq 1 40); do echo "Sphinx of black quartz, judge my vow; line $i."; done >"$TEXT"
fi
cli=ok
if "${Q[@]}" -m crnn train "$TEXT" -o "$WORK/m.npz" --iterations 50 --hidden-size 16 --seed 1 \
        >"$WORK/cli.log" 2>&1 &&
   "${Q[@]}" -m crnn sample "$WORK/m.npz" -n 100 --seed 2 >"$WORK/sample.txt" 2>>"$WORK/cli.log" &&
   [ "$(wc -c <"$WORK/sample.txt")" -ge 100 ]; then
    tail -2 "$WORK/cli.log"
    echo "sample: $(head -c 100 "$WORK/sample.txt" | tr '\n' ' ')"
else
    cat "$WORK/cli.log" "$WORK/sample.txt"
    cli=FAILED
    status=1
fi
echo "crnn train + sample under qemu: $cli ($((SECONDS - t))s)"

if [ "$status" = 0 ]; then
    result "cpu_path=baseline under -cpu $CPU (native: $native); ${tally}; train+sample ok"
else
    result "FAILED under -cpu $CPU: pytest: ${tally:-none}; train+sample $cli"
fi
exit "$status"
