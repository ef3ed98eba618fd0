# Sourced by sanitize.sh and plain_loops.sh: what both need before their own
# build of crnn._kernels.  Expects $repo (the checkout) and $python.

# copy_working_tree DEST: the checkout's tracked and untracked, non-ignored
# files (what `git status` shows, never build products) copied to DEST;
# files deleted but not yet staged as deleted are left out.
copy_working_tree() {
    mkdir -p "$1"
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 -I{} sh -c 'if test -e "{}"; then printf "%s\0" "{}"; fi' \
        | tar --null -T - -cf -) | tar -xf - -C "$1"
}

# make_test_venv DIR: a venv with the build and test requirements at the
# project's lower bounds or later (pyproject.toml), so a stage never depends
# on what the invoking interpreter has (its setuptools may be older than
# the build needs).  Sets $vpy to its python.
make_test_venv() {
    "$python" -m venv "$1"
    vpy="$1/bin/python"
    "$vpy" -m pip install --quiet --disable-pip-version-check \
        "Cython>=3.0" "setuptools>=77" "numpy>=2.2" "click>=8.0" "pytest>=7" "hypothesis>=6"
}
