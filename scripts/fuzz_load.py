#!/usr/bin/env python3
"""Fuzz ``crnn.load`` with damaged and hostile model files.

    python scripts/fuzz_load.py --cases 10000 [--seed 0] [--timeout 5]

Every case is a file made from a real model file (several shapes, dtypes and
vocabularies) by one or more mutations: byte-level (bit flips, overwritten,
inserted, deleted or duplicated bytes, truncation, zip structure fields set
to edge values), archive-level (members dropped, duplicated, renamed, added,
recompressed) and semantic (metadata JSON values replaced by hostile ones,
arrays with other shapes, dtypes, orders and values), plus a fixed list of
crafted cases (object arrays, pickles, zip bombs, enormous declared sizes,
...).  Each case must either load as a usable model (it samples, evaluates,
trains one step and saves/loads back identically) or raise
``crnn.ModelFormatError``, and ``crnn.io.read_metadata`` (what ``crnn info``
reads) must do the same and agree with the model; anything else (another exception, a hang past
--timeout, a crash) is a failure.  Prints a summary and exits 1 on failures.

The test suite (tests/test_fuzz_load.py) imports this file for a short run.
The mutations are in _fuzz_mutations.py, the crafted cases in _fuzz_crafted.py
and their zip helpers in _fuzz_archive.py, beside this file.
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Optional

import numpy as np

import crnn
import crnn.io

# The helper modules sit beside this file.  Run as a script, its folder is
# already on sys.path; imported from a file path (tests/test_fuzz_load.py)
# it is not, so add it.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.append(HERE)

from _fuzz_crafted import crafted_cases  # noqa: E402
from _fuzz_mutations import MUTATIONS, mutate  # noqa: E402

TEXT = "Hello, wörld! Привет 你好 😀 the quick brown fox jumps over the lazy dog.\n" * 6


# ----------------------------------------------------------------------
# Seed models


def seed_models(folder: Path) -> list[bytes]:
    """Real model files of several kinds, as bytes."""
    kinds = [
        dict(hidden_size=6, seq_length=5, seed=0),
        dict(hidden_size=4, seq_length=3, batch_size=3, dtype="float32", seed=1),
        dict(hidden_size=9, seq_length=7, learning_rate=0.05, seed=None),
    ]
    out = []
    for i, kwargs in enumerate(kinds):
        text = TEXT if i != 1 else "abcab cabba\n" * 20
        model = crnn.CharRNN(crnn.Vocab.from_text(text), **kwargs)
        model.train(text, iterations=3 + 4 * i)
        path = folder / f"seed{i}.npz"
        model.save(path)
        out.append(path.read_bytes())
    return out


# ----------------------------------------------------------------------
# Running cases


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def check_usable(model: crnn.CharRNN, folder: Path) -> None:
    """A model that loaded must work: sample, evaluate, train, save and reload."""
    model.sample(5, seed=0)
    text = "".join(model.vocab.chars) * (model.seq_length * model.batch_size + 2)
    model.evaluate(text[: 50])
    path = folder / "again.npz"
    model.save(path)
    again = crnn.load(path)
    for name in model.params:
        assert np.array_equal(model.params[name], again.params[name]), name
    try:
        model.train(text, iterations=1)
    except crnn.TrainingDivergedError:
        pass  # hostile but finite weights may diverge: reported, not a crash


def run_case(raw: bytes, folder: Path, timeout: float) -> tuple[str, Optional[str]]:
    """('loaded' | 'refused' | 'FAILED', detail)."""
    path = folder / "case.npz"
    path.write_bytes(raw)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            meta = crnn.io.read_metadata(path)  # what `crnn info` reads
        except crnn.ModelFormatError:
            meta = None
        try:
            model = crnn.load(path)
        except crnn.ModelFormatError as exc:
            return "refused", str(exc)
        assert meta is not None, "load accepted a file whose metadata read_metadata refused"
        assert meta["vocab"] == list(model.vocab.chars) and meta["training"]["iteration"] == model.iteration
        check_usable(model, folder)
        return "loaded", None
    except Timeout:
        return "FAILED", f"took more than {timeout} s"
    except Exception:
        return "FAILED", traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10000, help="mutated files to try (crafted ones come on top)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds one load may take")
    parser.add_argument("--save-failures", metavar="DIR", help="copy failing files here")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGALRM, _alarm)
    rnd = random.Random(args.seed)
    started = time.perf_counter()
    outcomes: collections.Counter = collections.Counter()
    by_mutation: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures: list[tuple[str, str, bytes]] = []
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bases = seed_models(folder)
        rss_before = maxrss_mb()
        marker = folder / "code-ran"
        cases: list[tuple[str, bytes]] = list(crafted_cases(bases[0], str(marker)))
        n_crafted = len(cases)
        for i in range(args.cases):
            raw, names = mutate(rnd.choice(bases), rnd)
            cases.append(("+".join(names) or "unchanged", raw))
            if len(cases) >= 2000 or i == args.cases - 1:  # keep memory flat
                slowest = _run_batch(cases, folder, args.timeout, outcomes, by_mutation, failures, slowest)
                cases = []
        if cases:
            slowest = _run_batch(cases, folder, args.timeout, outcomes, by_mutation, failures, slowest)
        if marker.exists():
            failures.append(("pickle", "an unpickled payload ran code", b""))
        rss_after = maxrss_mb()
    elapsed = time.perf_counter() - started

    total = sum(outcomes.values())
    print(f"fuzz_load: {total} cases ({n_crafted} crafted + {total - n_crafted} mutated, seed {args.seed}) "
          f"in {elapsed:.1f} s")
    print(f"  loaded as valid models: {outcomes['loaded']}")
    print(f"  refused with ModelFormatError: {outcomes['refused']}")
    print(f"  FAILED: {len(failures)}")
    print(f"  slowest case: {slowest[0] * 1000:.0f} ms ({slowest[1]})")
    print(f"  peak RSS: {rss_before:.0f} MB before the cases, {rss_after:.0f} MB after")
    print("  by mutation (loaded/refused/failed):")
    for name in sorted(by_mutation):
        c = by_mutation[name]
        print(f"    {name:<16} {c['loaded']:>6} {c['refused']:>6} {c['FAILED']:>4}")
    for name, detail, raw in failures[:20]:
        print(f"\n--- FAILED: {name}\n{detail}")
    if args.save_failures and failures:
        os.makedirs(args.save_failures, exist_ok=True)
        for i, (name, _, raw) in enumerate(failures):
            Path(args.save_failures, f"failure{i}.npz").write_bytes(raw)
    return 1 if failures else 0


def _run_batch(cases, folder, timeout, outcomes, by_mutation, failures, slowest):
    for name, raw in cases:
        t0 = time.perf_counter()
        outcome, detail = run_case(raw, folder, timeout)
        took = time.perf_counter() - t0
        if took > slowest[0]:
            slowest = (took, name)
        outcomes[outcome] += 1
        for part in name.split("+"):
            by_mutation[part if part in MUTATIONS or part == "unchanged" else "crafted"][outcome] += 1
        if outcome == "FAILED":
            failures.append((name, detail, raw))
    return slowest


if __name__ == "__main__":
    faulthandler.enable()  # a crash prints where it happened
    sys.exit(main())
