"""One crnn row of compare_commits.py, timed in a fresh process of one commit's venv.

    VENV/bin/python benchmarks/_compare_child.py ROW --corpus PATH --units N
        [--repeats R] [--seconds S] [--retries K] [--expect-under DIR]

The row code is this tree's (train_rows, sample_rows, harness), the crnn it
measures is the one installed in the interpreter that runs this file; with
``--expect-under DIR`` the child refuses to run a crnn imported from
anywhere else (e.g. from a stray PYTHONPATH).  ``--units 0`` calibrates (the
units per repeat that make a repeat last about ``--seconds``) and times
nothing; otherwise the runner is warmed up with one unit, then ``--repeats``
repeats of ``--units`` are timed (see harness.timed_repeat).  Prints one JSON
line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from environment import BlasThreads, Crnn, load_corpus  # noqa: E402
from harness import Case, calibrate, prepare, release, timed_repeat  # noqa: E402
from sample_rows import G_SAMPLE_BIG, G_SAMPLE_SMALL, crnn_model, crnn_sample_runner  # noqa: E402
from train_rows import (G_TRAIN_BIG_1, G_TRAIN_BIG_2, G_TRAIN_SMALL, LR_BIG,  # noqa: E402
                        LR_SMALL, CrnnTrainRunner)

# row -> (group, impl, what to build: ("train", H, T, B, dtype, threads, lr) or ("sample", H, dtype))
ROWS = {
    "train-small": (G_TRAIN_SMALL, "crnn CharRNN.train", ("train", 100, 25, 1, "float64", 1, LR_SMALL)),
    "train-big1": (G_TRAIN_BIG_1, "crnn CharRNN.train (n_threads=1)",
                   ("train", 512, 64, 32, "float32", 1, LR_BIG)),
    "train-big2": (G_TRAIN_BIG_2, "crnn CharRNN.train (n_threads=2)",
                   ("train", 512, 64, 32, "float32", 2, LR_BIG)),
    "sample-small": (G_SAMPLE_SMALL, "crnn CharRNN.sample", ("sample", 100, "float64")),
    "sample-big": (G_SAMPLE_BIG, "crnn CharRNN.sample", ("sample", 512, "float32")),
}


def make_case(row: str, crnn: Crnn, text: str, blas: BlasThreads) -> Case:
    group, impl, spec = ROWS[row]
    if spec[0] == "train":
        _, H, T, B, dt, n, lr = spec
        make = partial(CrnnTrainRunner, crnn, text, H, T, B, dt, n, blas, lr)
        return Case(group, impl, make, key=row, hidden_size=H, seq_length=T, batch_size=B,
                    dtype=dt, threads=n, learning_rate=lr)
    _, H, dt = spec
    return Case(group, impl, lambda: crnn_sample_runner(crnn_model(crnn, text, H, dt), blas),
                key=row, hidden_size=H, dtype=dt, threads=1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("row", choices=sorted(ROWS))
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--units", type=int, required=True, help="units per repeat; 0: calibrate only")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--retries", type=int, default=1)
    ap.add_argument("--expect-under", default=None)
    args = ap.parse_args()

    crnn = Crnn()
    if not crnn.available:
        print(json.dumps({"error": "; ".join(crnn.notes)}))
        return 1
    where = os.path.realpath(crnn.pkg.__file__)
    if args.expect_under and not where.startswith(os.path.realpath(args.expect_under) + os.sep):
        print(json.dumps({"error": f"crnn imported from {where}, not under {args.expect_under}"}))
        return 1
    text, _ = load_corpus(args.corpus, crnn)
    case = make_case(args.row, crnn, text, BlasThreads())
    out = {"row": args.row, "crnn": crnn.describe()}
    if args.units == 0:
        case.runner = case.make()
        out["units"] = calibrate(case.runner, args.seconds)
    elif prepare(case, args.seconds, units=args.units):
        for _ in range(args.repeats):
            timed_repeat(case, args.retries)
    release([case])
    out.update(case.result())
    print(json.dumps(out))
    return 0 if "error" not in out else 1


if __name__ == "__main__":
    sys.exit(main())
