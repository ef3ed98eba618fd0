"""Watch crnn.progress draw a real (small) training run on this terminal.

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
from crnn.progress import EtaEstimator, ProgressLine

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
    started = time.monotonic()
    deadline = None if args.time_limit is None else started + args.time_limit
    eta = EtaEstimator(model.iteration, target, deadline)
    line = ProgressLine(sys.stderr)
    chars_per_iteration = model.seq_length * model.batch_size

    def report(model: crnn.CharRNN, info: dict) -> bool:
        eta.update(model.iteration)
        elapsed = time.monotonic() - started
        fraction = None if target or deadline is None else elapsed / args.time_limit
        line.update(iteration=model.iteration, target=target, elapsed=elapsed,
                    seconds_left=eta.seconds_left(), loss_per_char=model.smooth_loss / model.seq_length,
                    chars_per_sec=(eta.rate() or 0.0) * chars_per_iteration, fraction=fraction)
        if model.iteration % args.note_every == 0:
            line.note(f"iteration {model.iteration:,}: (a checkpoint note)")
        time.sleep(0.0002)  # slow enough to watch
        return deadline is None or time.monotonic() < deadline

    with line:
        model.train(TEXT, iterations=(target or 10**9) - model.iteration, callback=report)
    print(f"Done: {model.iteration:,} iterations.", file=sys.stderr)


if __name__ == "__main__":
    main()
