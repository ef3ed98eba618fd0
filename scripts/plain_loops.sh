#!/usr/bin/env bash
# Build crnn._kernels as the plain-loop fallback (-DCRNN_NO_VECTOR_EXT: what
# compilers without GCC/Clang vector extensions get) and run the kernel,
# parity and gradient tests against it.
#
#   scripts/plain_loops.sh [pytest arguments...]
#
# The build happens in a copy of the working tree in a temporary folder, with
# a venv of its own (the project's lower bounds), so nothing else is touched.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
source "$repo/scripts/_tree_and_venv.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/crnn-plain.XXXXXX")"
trap 'rm -rf "$work"' EXIT
started=$SECONDS

echo "== copy the working tree to $work/src-tree"
copy_working_tree "$work/src-tree"

echo "== venv with the build and test requirements"
make_test_venv "$work/venv"

echo "== build with CRNN_PLAIN_LOOPS=1"
(cd "$work/src-tree" && rm -f src/crnn/_kernels*.so src/crnn/_kernels.c \
    && CRNN_PLAIN_LOOPS=1 "$vpy" setup.py -q build_ext --inplace >"$work/build.log" 2>&1) || {
    cat "$work/build.log" >&2
    echo "plain_loops.sh: the build failed" >&2
    exit 1
}
cd "$work/src-tree"
PYTHONPATH="$work/src-tree/src" "$vpy" -c \
    "import crnn._kernels as k, sys; sys.exit('not the plain-loop build' if k.vector_code() else 0)"

echo "== kernel, parity and gradient tests on the plain loops"
tests=(tests/test_kernels.py tests/test_kernels_train_step.py tests/test_kernels_sample.py
       tests/test_kernels_arguments.py tests/test_kernels_props.py tests/test_ops.py tests/test_parity.py
       tests/test_gradcheck.py tests/test_model.py)
for extra in tests/test_cells.py tests/test_optim.py tests/test_networks.py; do
    [[ -e "$extra" ]] && tests+=("$extra")
done
PYTHONPATH="$work/src-tree/src" "$vpy" -m pytest -q -p no:cacheprovider "$@" "${tests[@]}"
echo "plain_loops.sh: OK ($((SECONDS - started))s)"
