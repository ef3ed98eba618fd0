#!/usr/bin/env bash
# Train on a 1 GB text file and measure peak memory and time to the first
# iteration, with the id cache cold (first run: read, hash, encode) and warm
# (second run: read and hash only, then map the cached ids).
#
#   scripts/huge_corpus.sh [SIZE_MB]          (default 1024)
#
# The corpus is /work/shared/data/tinyshakespeare.txt (or the built-in
# corpus) repeated to SIZE_MB in a temporary folder, deleted at the end with
# the id cache.  Needs /usr/bin/time (GNU time) and crnn importable by
# ${PYTHON:-python3}.
set -euo pipefail

size_mb="${1:-1024}"
python="${PYTHON:-python3}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/crnn-huge.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export CRNN_CACHE_DIR="$work/cache"

echo "== generate a ${size_mb} MB corpus in $work"
"$python" - "$work/huge.txt" "$size_mb" "$repo/../shared/data/tinyshakespeare.txt" <<'EOF'
import os, sys
out, size = sys.argv[1], int(sys.argv[2]) << 20
seed = sys.argv[3]
if os.path.exists(seed):
    block = open(seed, "rb").read()
else:
    from crnn.corpus import builtin_text
    block = builtin_text().encode("utf-8")
with open(out, "wb") as f:
    written = 0
    while written < size:
        piece = block[: size - written]
        f.write(piece)
        written += len(piece)
EOF
ls -l "$work/huge.txt"

run() {
    local label="$1"
    echo "== $label"
    local start
    start="$(date +%s.%N)"
    # Every line of standard error stamped with the seconds since the start;
    # GNU time's report goes to its own file.
    /usr/bin/time -v -o "$work/time.txt" \
        "$python" -m crnn train "$work/huge.txt" -o "$work/m.npz" --force \
        --iterations 2000 --checkpoint-every 1000 --seed 0 2>&1 >/dev/null \
        | "$python" -u -c '
import sys, time
start = float(sys.argv[1])
for line in sys.stdin:
    print(f"{time.time() - start:8.2f} s  {line}", end="")
' "$start" | tee "$work/log.txt"
    local first rss wall
    first="$(grep -m1 " iteration 1/" "$work/log.txt" | awk '{print $1}')"
    rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")"
    wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")"
    echo "-- $label: first iteration after ${first} s; peak RSS $((rss / 1024)) MB; whole run ${wall} (2000 iterations)"
    echo "$label|$first|$((rss / 1024))|$wall" >>"$work/summary.txt"
}

sync
run "cold cache (read, hash, encode, train)"
run "warm cache (read and hash, map the ids, train)"

echo "== summary (${size_mb} MB corpus)"
column -t -s'|' "$work/summary.txt" 2>/dev/null || cat "$work/summary.txt"
