"""Child process of ``bench.py memory``: train H=100 on a big text, report peak RSS.

Run in a fresh interpreter so that ru_maxrss is this job's peak alone.  Prints
one JSON line: peak_rss (bytes), the peak reached after each phase (ru_maxrss
never decreases, so the first phase whose value equals peak_rss is where the
peak happened), and the training speed on this text (a per-iteration copy of
the corpus would show up as a collapse of that figure).

    --impl crnn-text   text = crnn.data.read_text(path); vocab = Vocab.from_text(text);
                       model.train(text, iterations)        (the obvious use of the API)
    --impl crnn-ids    the same, but encode_corpus(text, vocab) and drop the str
                       before training on the compact id array
    --impl crnn-file   streaming: crnn.data.vocab_from_file, encode_file to a
                       memory-mapped id file, model.train(memmap, iterations)
    --impl crnn-cli    `python -m crnn train PATH -o MODEL --iterations N --seed 0`
                       (defaults otherwise, e.g. 10% validation) as a child of
                       this small process; its peak is RUSAGE_CHILDREN's ru_maxrss
    --impl numpy       the vectorised NumPy baseline: str + int32 ids
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def maxrss() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024  # Linux reports KiB


def vm_hwm():
    """Peak RSS of this process image (Linux /proc), in bytes, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def run_cli(args) -> None:
    """Peak RSS of the `crnn train` command, run as our child."""
    start = maxrss()
    with tempfile.TemporaryDirectory(prefix="crnn-bench-cli-") as tmp:
        cmd = [sys.executable, "-m", "crnn", "train", args.path, "-o",
               os.path.join(tmp, "model.npz"), "--iterations", str(args.iterations),
               "--hidden-size", str(args.hidden), "--seq-length", str(args.seq), "--seed", "0"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(proc.returncode)
    r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak = r if sys.platform == "darwin" else r * 1024
    print(json.dumps({
        "peak_rss": peak,
        "phases": {"imports": start, "crnn train": peak},
        "iterations": args.iterations,
        "command_seconds": wall,
        "chars_per_s": None,  # includes start-up, reading, encoding, validation, saving
    }))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", required=True, choices=("crnn-text", "crnn-ids", "crnn-file", "crnn-cli", "numpy"))
    ap.add_argument("--path", required=True)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--seq", type=int, default=25)
    args = ap.parse_args()
    H, T = args.hidden, args.seq
    phases = {}

    if args.impl == "crnn-cli":
        run_cli(args)
        return

    import numpy as np

    if args.impl == "crnn-file":
        from crnn import CharRNN
        from crnn.data import encode_file, vocab_from_file

        phases["imports"] = maxrss()
        vocab = vocab_from_file(args.path)
        phases["vocab"] = maxrss()
        tmpdir = tempfile.mkdtemp(prefix="crnn-bench-ids-")
        ids_path = os.path.join(tmpdir, "ids.bin")
        data = encode_file(args.path, vocab, ids_path)
        phases["encode"] = maxrss()
        model = CharRNN(vocab, hidden_size=H, seq_length=T, learning_rate=0.1, seed=0)

        def train(n):
            model.train(data, iterations=n)

    elif args.impl.startswith("crnn"):
        from crnn import CharRNN, Vocab
        from crnn.data import encode_corpus, read_text

        phases["imports"] = maxrss()
        text = read_text(args.path)
        phases["read"] = maxrss()
        vocab = Vocab.from_text(text)
        phases["vocab"] = maxrss()
        model = CharRNN(vocab, hidden_size=H, seq_length=T, learning_rate=0.1, seed=0)
        if args.impl == "crnn-ids":
            data = encode_corpus(text, vocab)
            del text
            phases["encode"] = maxrss()
        else:
            data = text

        def train(n):
            model.train(data, iterations=n)

    else:
        import baselines as bl

        phases["imports"] = maxrss()
        with open(args.path, encoding="utf-8") as f:
            text = f.read()
        phases["read"] = maxrss()
        points = np.frombuffer(text.encode("utf-32-le"), np.uint32)
        uniq = np.unique(points)
        phases["vocab"] = maxrss()
        table = np.zeros(int(uniq.max()) + 1, np.int32)
        table[uniq] = np.arange(uniq.size, dtype=np.int32)
        ids = table[points]
        del points
        phases["encode"] = maxrss()
        trainer = bl.NumpyVectorised(ids, uniq.size, H, T, 1, "float64", learning_rate=0.1)

        def train(n):
            trainer.train(n)

    train(1)
    phases["first_train_call"] = maxrss()
    t0 = time.perf_counter()
    train(args.iterations)
    dt = time.perf_counter() - t0
    phases["timed_train_call"] = maxrss()
    if args.impl == "crnn-file":
        del data, model
        os.remove(ids_path)
        os.rmdir(tmpdir)
    print(json.dumps({
        "peak_rss": maxrss(),
        "vm_hwm": vm_hwm(),
        "phases": phases,
        "iterations": args.iterations,
        "chars_per_s": args.iterations * T / dt,
    }))


if __name__ == "__main__":
    main()
