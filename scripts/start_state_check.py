"""Do default models give sensible samples and short-text figures? (issue 10, item 2)

For several training seeds of the default ``crnn train`` on tinyshakespeare's
first 90%, through the command line as a user runs it:

  (a) the mean nats/char of ``crnn eval`` over 20 single held-out lines
      (30-80 characters, from the last 10%) against the nats/char of the
      whole held-out tail: the ratio must be at most 1.3 for every seed;
  (b) for ``crnn sample --prime "The "`` at temperatures 0 and 1, the share
      of whitespace-separated words of a 300-character sample that are words
      of the training text: at least half for every seed.  Counted twice:
      tokens as they stand (punctuation included, the strict count) and
      with the punctuation around them stripped (the judged count); the
      samples are kept in the JSON.

    python scripts/start_state_check.py [--seeds 10] [--corpus PATH] [--out FILE.json]

Prints a table and writes JSON.  Takes about a minute per seed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare.txt")
N_LINES = 20


def crnn(*args: str) -> str:
    """Run the installed crnn command; its standard output."""
    done = subprocess.run([sys.executable, "-m", "crnn", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"crnn {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def held_out_lines(tail: str) -> list[str]:
    """N_LINES lines of 30-80 characters, spread evenly over the tail."""
    lines = [line for line in tail.split("\n") if 30 <= len(line) <= 80]
    step = max(1, len(lines) // N_LINES)
    return lines[::step][:N_LINES]


PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def tokens_of(text: str, strip: bool) -> list[str]:
    tokens = text.split()
    return [t.strip(PUNCTUATION) for t in tokens] if strip else tokens


def known_share(sample: str, words: set[str], strip: bool) -> float:
    """Share of the sample's complete words that occur in the training text."""
    tokens = tokens_of(sample, strip)
    if sample and not sample[-1].isspace():
        tokens = tokens[:-1]  # cut off by the sample's length
    tokens = [t for t in tokens if t]  # a lone dash, stripped
    return sum(t in words for t in tokens) / max(1, len(tokens))


def check_seed(seed: int, folder: str, train_path: str, tail_path: str, lines: list[str],
               words: set[str]) -> dict:
    model = os.path.join(folder, f"seed{seed}.npz")
    started = time.monotonic()
    crnn("train", train_path, "-o", model, "--seed", str(seed), "--force")
    trained = time.monotonic() - started
    tail_nats = json.loads(crnn("eval", model, tail_path, "--json"))["nats_per_char"]
    line_nats = []
    for i, line in enumerate(lines):
        path = os.path.join(folder, f"line{i}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(line)
        line_nats.append(json.loads(crnn("eval", model, path, "--json"))["nats_per_char"])
    mean_line = sum(line_nats) / len(line_nats)
    row = {"seed": seed, "train_seconds": trained, "tail_nats": tail_nats,
           "mean_line_nats": mean_line, "worst_line_nats": max(line_nats),
           "ratio": mean_line / tail_nats}
    for temperature in ("0", "1"):
        text = crnn("sample", model, "--prime", "The ", "-n", "300", "--temperature", temperature,
                    "--seed", "1")
        row[f"sample_t{temperature}"] = text
        row[f"known_words_t{temperature}"] = known_share(text, words[True], strip=True)
        row[f"strict_known_words_t{temperature}"] = known_share(text, words[False], strip=False)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--corpus", default=DEFAULT_CORPUS)
    parser.add_argument("--out", default="start_state_check.json")
    args = parser.parse_args()
    with open(args.corpus, encoding="utf-8") as f:
        text = f.read()
    split = int(len(text) * 0.9)
    train_text, tail = text[:split], text[split:]
    words = {strip: set(tokens_of(train_text, strip)) for strip in (False, True)}
    lines = held_out_lines(tail)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        train_path, tail_path = os.path.join(folder, "train.txt"), os.path.join(folder, "tail.txt")
        for path, part in ((train_path, train_text), (tail_path, tail)):
            with open(path, "w", encoding="utf-8") as f:
                f.write(part)
        print(f"{'seed':>4} {'tail':>7} {'lines':>7} {'worst':>7} {'ratio':>6} {'words@0':>8} "
              f"{'words@1':>8} {'strict@0':>8} {'strict@1':>8}")
        for seed in range(args.seeds):
            row = check_seed(seed, folder, train_path, tail_path, lines, words)
            rows.append(row)
            print(f"{seed:>4} {row['tail_nats']:7.4f} {row['mean_line_nats']:7.4f} "
                  f"{row['worst_line_nats']:7.4f} {row['ratio']:6.3f} {row['known_words_t0']:8.2f} "
                  f"{row['known_words_t1']:8.2f} {row['strict_known_words_t0']:8.2f} "
                  f"{row['strict_known_words_t1']:8.2f}", flush=True)
    ok_a = all(r["ratio"] <= 1.3 for r in rows)
    ok_b = all(min(r["known_words_t0"], r["known_words_t1"]) >= 0.5 for r in rows)
    print(f"(a) line/tail ratio <= 1.3 for every seed: {'yes' if ok_a else 'NO'} "
          f"(max {max(r['ratio'] for r in rows):.3f})")
    print(f"(b) at least half the words known at T=0 and T=1 for every seed: {'yes' if ok_b else 'NO'} "
          f"(min {min(min(r['known_words_t0'], r['known_words_t1']) for r in rows):.2f})")
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"rows": rows, "a_passed": ok_a, "b_passed": ok_b, "load": os.getloadavg()}, f, indent=1)
    sys.exit(0 if ok_a and ok_b else 1)


if __name__ == "__main__":
    main()
