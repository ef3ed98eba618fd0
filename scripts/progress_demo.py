"""Watch crnn.training_progress draw a real (small) training run on this terminal
(or, redirected to a file, print its plain lines).

    python scripts/progress_demo.py                        # 30,000 iterations, notes every 5,000
    python scripts/progress_demo.py --resume-from 10000    # as after --resume: one count, 10,000 -> 30,000
    python scripts/progress_demo.py --time-limit 8 --iterations 0   # only a time limit: a time bar

Resize the terminal while it runs: the line follows the width.
"""

import argparse
import sys
import time

import crnn
from crnn.corpus import builtin_text
from crnn.training_progress import TrainingProgress

TEXT = builtin_text()[:200_000]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=30_000, help="target total (0: none)")
    parser.add_argument("--resume-from", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--note-every", type=int, default=5_000)
    args = parser.parse_args()

    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), hidden_size=64, seed=0)
    if args.resume_from:
        model.train(TEXT, iterations=args.resume_from)  # "the earlier run"
    target = args.iterations or None
    deadline = None if args.time_limit is None else time.monotonic() + args.time_limit
    progress = TrainingProgress(start_iteration=model.iteration, target=target, deadline=deadline,
                                time_limit=args.time_limit, seq_length=model.seq_length,
                                batch_size=model.batch_size)

    def report(model: crnn.CharRNN, info: dict) -> bool:
        progress.update(info)
        if model.iteration % args.note_every == 0:
            progress.note(f"iteration {model.iteration:,}: (a checkpoint note)")
        time.sleep(0.0002)  # slow enough to watch
        return deadline is None or time.monotonic() < deadline

    with progress:
        model.train(TEXT, iterations=(target or 10**9) - model.iteration, callback=report)
    print(f"Done: {model.iteration:,} iterations.", file=sys.stderr)


if __name__ == "__main__":
    main()
