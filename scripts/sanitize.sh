#!/usr/bin/env bash
# Run the whole test suite against a build of crnn._kernels instrumented with
# AddressSanitizer and UndefinedBehaviorSanitizer (-fsanitize=address,undefined).
#
#   scripts/sanitize.sh [--self-test] [pytest arguments...]
#
# The build happens in a copy of the working tree (tracked and untracked,
# non-ignored files) in a temporary folder, never in place, so the shared
# in-place build and any installed crnn are left alone.  The copy's src/ is
# put first on PYTHONPATH, so the tests (and the `python -m crnn`
# subprocesses they start) import the instrumented extension.
#
# Exit status: non-zero if the build fails, a test fails, or any sanitizer
# report is written.  AddressSanitizer reports also go to a log folder
# (log_path=), checked after the run, so one from a subprocess cannot hide
# behind an exit status the test expected to be non-zero.  UndefinedBehavior-
# Sanitizer ignores log_path when libasan is preloaded: its reports are fatal
# with the distinctive exit status 87 (86 for ASan), which fails the test
# that ran the process (the CLI tests check exact exit statuses).
#
# --self-test first proves the machinery catches errors: a tiny instrumented
# library with a heap overflow (must be logged) and a signed overflow (must
# exit with status 87).
#
# Environment: PYTHON (default python3), CRNN_SANITIZE_KEEP=1 keeps the
# temporary folder, CRNN_SANITIZE_DIR puts it somewhere else.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
source "$repo/scripts/_tree_and_venv.sh"
self_test=0
if [[ "${1:-}" == "--self-test" ]]; then
    self_test=1
    shift
fi

work="${CRNN_SANITIZE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/crnn-sanitize.XXXXXX")}"
mkdir -p "$work"
cleanup() {
    if [[ "${CRNN_SANITIZE_KEEP:-0}" != "1" ]]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT
started=$SECONDS

libasan="$(gcc -print-file-name=libasan.so)"

if [[ ! -e "$libasan" ]]; then
    echo "sanitize.sh: libasan.so not found (gcc -print-file-name=libasan.so gave '$libasan')" >&2
    exit 2
fi

logs="$work/sanitizer-logs"
mkdir -p "$logs"
# A Python host needs libasan loaded first.  CPython and NumPy keep memory
# until exit on purpose, so leak reports would be noise.  Reports go to files
# (one per process) as well as being fatal, so a report from a subprocess
# cannot hide behind an expected non-zero exit status.
sanitizer_env=(
    "LD_PRELOAD=$libasan"
    "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=86:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$logs/asan"
    "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=87:log_path=$logs/ubsan"
    "PYTHONMALLOC=malloc"
)

check_logs() {
    local found=0 f
    for f in "$logs"/*; do
        [[ -e "$f" ]] || continue
        found=1
        echo "=== sanitizer report: $(basename "$f")" >&2
        cat "$f" >&2
    done
    return $found
}

# ----------------------------------------------------------------------
if [[ $self_test == 1 ]]; then
    echo "== self-test: the sanitizers and the log check catch errors"
    cat >"$work/bad.c" <<'EOF'
#include <stdlib.h>
#include <limits.h>
int heap_overflow(int n) { int *a = malloc(n * sizeof *a); int v = a[n]; free(a); return v; }
int signed_overflow(int x) { return x + INT_MAX; }
EOF
    gcc -shared -fPIC -g -fsanitize=address,undefined -fno-omit-frame-pointer \
        -o "$work/libbad.so" "$work/bad.c"
    run_bad() {
        status=0
        env "${sanitizer_env[@]}" "$python" -c \
            "import ctypes; lib = ctypes.CDLL('$work/libbad.so'); lib.$1" >/dev/null 2>&1 || status=$?
    }
    run_bad "heap_overflow(4)"
    if check_logs 2>/dev/null || [[ $status != 86 ]]; then
        echo "self-test FAILED: the heap overflow was not logged (exit status $status)" >&2
        exit 1
    fi
    echo "   heap overflow: logged by AddressSanitizer, exit status $status"
    rm -f "$logs"/*
    run_bad "signed_overflow(5)"
    if [[ $status != 87 ]]; then
        echo "self-test FAILED: the signed overflow did not stop the process (exit status $status)" >&2
        exit 1
    fi
    echo "   signed overflow: reported by UndefinedBehaviorSanitizer, exit status $status"
    rm -f "$logs"/*
fi

# ----------------------------------------------------------------------
echo "== copy the working tree to $work/src-tree"
copy_working_tree "$work/src-tree"

echo "== build environment"
make_test_venv "$work/venv" \
    || { echo "sanitize.sh: could not install the build and test requirements" >&2; exit 1; }

# Python's own CFLAGS carry -fwrapv, which defines signed overflow and so
# hides it from UBSan: -fno-wrapv (given after them) turns the check back on.
echo "== build crnn._kernels with CRNN_SANITIZE=1 (-fsanitize=address,undefined, -fno-wrapv)"
(cd "$work/src-tree" && rm -f src/crnn/_kernels*.so src/crnn/_kernels.c \
    && CRNN_SANITIZE=1 CFLAGS="${CFLAGS:-} -fno-wrapv" "$vpy" setup.py -q build_ext --inplace \
        >"$work/build.log" 2>&1) || {
    cat "$work/build.log" >&2
    echo "sanitize.sh: the instrumented build failed" >&2
    exit 1
}
so="$(ls "$work"/src-tree/src/crnn/_kernels*.so)"
if ! grep -q "__asan_init" <(nm -D "$so" 2>/dev/null); then
    echo "sanitize.sh: $so is not instrumented (no __asan_init)" >&2
    exit 1
fi

echo "== run the test suite under the sanitizers"
cd "$work/src-tree"
status=0
env "${sanitizer_env[@]}" PYTHONPATH="$work/src-tree/src" \
    "$vpy" -m pytest -q -p no:cacheprovider "$@" tests || status=$?
# The module really was the instrumented one (and not, say, an installed crnn).
env "${sanitizer_env[@]}" PYTHONPATH="$work/src-tree/src" "$vpy" -c \
    "import crnn._kernels as k, sys; sys.exit(0 if k.__file__ == '$so' else 'imported ' + k.__file__)" \
    || status=1

reports=0
check_logs || reports=1
elapsed=$((SECONDS - started))
if [[ $reports == 1 ]]; then
    echo "sanitize.sh: FAILED: sanitizer report(s) above (${elapsed}s)" >&2
    exit 1
fi
if [[ $status != 0 ]]; then
    echo "sanitize.sh: FAILED: the test suite exited with status $status (${elapsed}s)" >&2
    exit "$status"
fi
echo "sanitize.sh: OK: no sanitizer reports, all tests passed (${elapsed}s)"
