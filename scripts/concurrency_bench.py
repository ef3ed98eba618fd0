#!/usr/bin/env python3
"""How much two application threads gain by training two models at once.

    python scripts/concurrency_bench.py [--iterations 20000] [--repeat 3]

Trains two different models (reference settings: hidden 100, seq_length 25,
on tinyshakespeare when present, else the built-in corpus) one after the
other, then in two threads at once, and prints the wall times and their
ratio (threads / sequential: 0.5 is a perfect 2x, 1.0 no gain).  The GIL is
released inside every kernel call, so on 2 free cores the ratio should be
near 0.5.  Also checks the threaded models equal the sequential ones.
The best of --repeat runs is reported for each way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import numpy as np

import crnn
from crnn.corpus import builtin_text

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def corpus() -> tuple[str, str]:
    if SHAKESPEARE.exists():
        return SHAKESPEARE.read_text(encoding="utf-8"), str(SHAKESPEARE)
    return builtin_text(), "built-in corpus"


def make_models(vocab: crnn.Vocab) -> list[crnn.CharRNN]:
    return [crnn.CharRNN(vocab, seed=1), crnn.CharRNN(vocab, seed=2, learning_rate=0.05)]


def _train_one(args: tuple) -> float:
    """In a worker process: train one model, return its wall time."""
    seed, iterations = args
    text, _ = corpus()
    vocab = crnn.Vocab.from_text(text)
    ids = crnn.data.encode_corpus(text, vocab)
    model = make_models(vocab)[seed]
    start = time.perf_counter()
    model.train(ids, iterations=iterations)
    return time.perf_counter() - start


def _processes_ratio(iterations: int, repeat: int) -> float:
    """The same two trainings in two processes (no GIL shared at all) at once,
    over one after the other in one process: the best threads could do here."""
    ratios = []
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_train_one, [(0, 200), (1, 200)])  # start the workers, warm up
        for _ in range(repeat):
            sequential = sum(_train_one((i, iterations)) for i in range(2))
            # The workers' own setup (reading the corpus) is not training: count
            # the slower worker's training time, as for threads.  (Both start
            # within milliseconds of each other.)
            times = pool.map(_train_one, [(0, iterations), (1, iterations)])
            ratios.append(max(times) / sequential)
    return min(ratios)


def _calibrate(repeat: int) -> float:
    """Two threads hashing vs one after the other: the machine's parallelism now."""
    data = b"x" * (64 << 20)

    def work() -> None:
        hashlib.sha256(data).digest()

    ratios = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        work()
        sequential = time.perf_counter() - start
        threads = [threading.Thread(target=work) for _ in range(2)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ratios.append((time.perf_counter() - start) / sequential)
    return min(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args()

    text, source = corpus()
    vocab = crnn.Vocab.from_text(text)
    ids = crnn.data.encode_corpus(text, vocab)
    crnn.CharRNN(vocab, seed=0).train(ids, iterations=200)  # warm up caches and the CPU

    sequential_times, threaded_times = [], []
    for _ in range(args.repeat):
        models = make_models(vocab)
        start = time.perf_counter()
        for model in models:
            model.train(ids, iterations=args.iterations)
        sequential_times.append(time.perf_counter() - start)
        expected = [model._flat.copy() for model in models]

        models = make_models(vocab)
        threads = [threading.Thread(target=m.train, args=(ids, args.iterations)) for m in models]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        threaded_times.append(time.perf_counter() - start)
        assert all(np.array_equal(m._flat, e) for m, e in zip(models, expected)), "threads changed the result"

    sequential, threaded = min(sequential_times), min(threaded_times)
    calibration = _calibrate(args.repeat)
    processes = _processes_ratio(args.iterations, args.repeat)
    figures = {
        "corpus": source,
        "iterations_per_model": args.iterations,
        "cpus": os.cpu_count(),
        "sequential_s": round(sequential, 3),
        "two_threads_s": round(threaded, 3),
        "ratio_threads_over_sequential": round(threaded / sequential, 3),
        "speedup": round(sequential / threaded, 3),
        "calibration_ratio_sha256": round(calibration, 3),
        "ratio_two_processes_over_sequential": round(processes, 3),
    }
    print(f"two models x {args.iterations} iterations (hidden 100, seq 25) on {source}, {os.cpu_count()} CPUs")
    print(f"  one after the other: {sequential:7.2f} s   (best of {args.repeat})")
    print(f"  two threads at once: {threaded:7.2f} s   (best of {args.repeat})")
    print(f"  ratio threads/sequential: {threaded / sequential:.3f}   speedup {sequential / threaded:.2f}x")
    print("  results identical to the sequential runs: yes")
    print(f"  the same in two processes at once (no shared GIL) / one after the other: {processes:.3f}")
    print(f"  calibration: hashlib.sha256 (C, GIL released) in two threads / one after the other: "
          f"{calibration:.3f}")
    print("  (the calibration shows what two threads can gain on this machine right now; "
          "near 1.0 means no free second core)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
