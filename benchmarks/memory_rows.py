"""Peak memory of training H=100 on a big text (``--mem-mb`` MB, the corpus
repeated), each case in a fresh child process (_memchild.py, which says how).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from environment import HERE, REPO
from harness import fmt_rate, log

MEM_DESCRIPTIONS = {
    "crnn-text": "crnn: read_text, Vocab.from_text, train(text)",
    "crnn-ids": "crnn: read_text, encode_corpus, del text, train(ids)",
    "crnn-file": "crnn: vocab_from_file, encode_file, train(memmap)",
    "crnn-cli": "crnn train FILE (CLI, default options)",
    "numpy": "numpy vectorised: str + int32 ids",
}


def print_memory(rows: list[dict]) -> None:
    if not rows:
        return
    print()
    print(f"== {rows[0]['group']} (peak RSS of a fresh process / text bytes) ==")
    print(f"{'case':<52} {'peak RSS MB':>11} {'x text':>7} {'x text excl. start':>19}  "
          f"{'train chars/s':>13}  peak reached in")
    for r in rows:
        name = MEM_DESCRIPTIONS.get(r["impl"], r["impl"])
        if "error" in r:
            print(f"{name:<52} {'-':>11} {'-':>7} {'-':>19}  {'-':>13}  {r['error'][:60]}")
            continue
        ph = r["phases"]
        rate = fmt_rate(r["chars_per_s"]) if r.get("chars_per_s") else "-"
        # the first phase that brought ru_maxrss within 2% of the final peak
        where = next(k for k, v in ph.items() if v >= 0.98 * r["peak_rss"])
        print(f"{name:<52} {r['peak_rss'] / 1e6:>11.0f} {r['peak_over_text']:>7.2f} "
              f"{r['peak_above_start_over_text']:>19.2f}  {rate:>13}  {where}")


def make_big_text(text: str, n_bytes: int, directory: str) -> str:
    """A file of exactly ~n_bytes of UTF-8: the corpus repeated (cut at a char boundary)."""
    data = text.encode("utf-8")
    path = os.path.join(directory, f"corpus-{n_bytes}.txt")
    written = 0
    with open(path, "wb") as f:
        while written < n_bytes:
            piece = data[: n_bytes - written]
            if len(piece) < len(data):
                piece = piece.decode("utf-8", "ignore").encode("utf-8")
                if not piece:
                    break
            f.write(piece)
            written += len(piece)
    return path


def run_memory(ctx) -> list[dict]:
    size = int(ctx.args.mem_mb * 1_000_000)
    iterations = ctx.args.mem_iterations
    impls = []
    if ctx.crnn.available:
        impls += ["crnn-text", "crnn-ids", "crnn-file", "crnn-cli"]
    impls.append("numpy")
    rows = []
    tmp = tempfile.mkdtemp(prefix="crnn-bench-")
    try:
        log(f"  writing a {size / 1e6:.0f} MB text in {tmp}")
        path = make_big_text(ctx.text, size, tmp)
        text_bytes = os.path.getsize(path)
        env = dict(os.environ)
        if ctx.crnn.path_added:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(REPO / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env["OPENBLAS_NUM_THREADS"] = "1"
        for impl in impls:
            log(f"  peak memory: {impl}")
            cmd = [sys.executable, str(HERE / "_memchild.py"), "--impl", impl, "--path", path,
                   "--iterations", str(iterations)]
            if os.path.exists("/bin/sh"):
                # A child exec'd straight from this (big) process starts with our
                # ru_maxrss (Linux keeps the peak across fork + exec).  Going
                # through sh, which forks the real child, gives a clean count.
                cmd = ["/bin/sh", "-c", '"$0" "$@"'] + cmd
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            row: dict[str, Any] = {"group": f"peak memory, train H=100 on {size / 1e6:.0f} MB",
                                   "impl": impl, "text_bytes": text_bytes}
            if proc.returncode != 0:
                row["error"] = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            else:
                row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
                row["peak_over_text"] = row["peak_rss"] / text_bytes
                row["peak_above_start_over_text"] = (row["peak_rss"] - row["phases"]["imports"]) / text_bytes
            rows.append(row)
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    return rows
