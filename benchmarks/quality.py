"""Held-out quality per minute of training: crnn and PyTorch side by side (issue 14).

For a wall-clock TRAINING budget (default 600 s) and a thread count
(default 2), trains each named configuration in a fresh process and records
the held-out loss (nats/char) over training time, with the clock paused
while evaluating.  Writes JSON, prints a table (held-out loss at 2, 5 and
10 minutes of training, and the best) and draws a PNG (if matplotlib is
installed).

    python benchmarks/quality.py --budget 600 --threads 2 crnn:lstm-512 torch:lstm-512
    python benchmarks/quality.py --list             # the configurations
    python benchmarks/quality.py --quick            # a few seconds; CI, no torch needed

A configuration is IMPL:NAME: IMPL is crnn or torch, NAME a key of CONFIGS
(any name runs under either implementation).  Torch rows run with
``--torch-python`` (default: this interpreter) and are skipped when it
cannot import torch.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHAKESPEARE = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

HELDOUT_FRACTION = 0.1
REPORT_MARKS = (120.0, 300.0, 600.0)  # the table's 2, 5 and 10 minutes

# The configurations.  Keys: cell, hidden, layers, seq, batch, optimizer, lr,
# schedule (None or a crnn.schedules spec without "total": the child sizes
# it to the budget), dropout (between stacked layers), dtype, clip and
# clip_mode ("norm" = clip_grad_norm_, "value" = element-wise, "none"),
# optimizer_settings (torch.optim's names and defaults, for both sides),
# init (crnn only; None = the cell's default: min-char-rnn's N(0,1)*0.01 for
# rnn, PyTorch's uniform(+-1/sqrt(H)) for lstm/gru).
# Torch only: torch_input ("embedding" | "onehot"), torch_loss ("mean" =
# PyTorch's usual mean over all tokens | "sum" = summed over time and
# averaged over the batch, crnn's scale).
_ADAM_LSTM = dict(cell="lstm", hidden=512, layers=1, seq=64, batch=32, optimizer="adam", lr=2e-3,
                  schedule=None, dropout=0.0, dtype="float32", clip=5.0, clip_mode="norm",
                  torch_input="embedding", torch_loss="mean")
CONFIGS: dict[str, dict] = {
    # Karpathy's min-char-rnn exactly (what crnn was first).
    "min-char-rnn": dict(cell="rnn", hidden=100, layers=1, seq=25, batch=1, optimizer="adagrad",
                         lr=0.1, schedule=None, dropout=0.0, dtype="float64", clip=5.0,
                         clip_mode="value", torch_input="onehot", torch_loss="sum"),
    # Today's crnn at a batched size: tanh RNN + Adagrad, float32.
    "rnn-512-adagrad": dict(_ADAM_LSTM, cell="rnn", optimizer="adagrad", lr=0.02,
                            clip_mode="value", torch_input="onehot", torch_loss="sum"),
    # The PyTorch user's baseline: one 512-unit LSTM, Adam 2e-3, B 32, T 64.
    "lstm-512": dict(_ADAM_LSTM),
    # The same with crnn's loss scale on the torch side (sum over time / B).
    "lstm-512-sum": dict(_ADAM_LSTM, torch_loss="sum"),
    "lstm-512-cosine": dict(_ADAM_LSTM, schedule={"kind": "cosine", "floor": 0.1}),
    # crnn's one-hot LSTM started where an nn.Embedding-fed PyTorch LSTM starts.
    "lstm-512-emb": dict(_ADAM_LSTM, init="embedding"),
    "lstm-512-emb-lr4e-3": dict(_ADAM_LSTM, init="embedding", lr=4e-3),
    "lstm-512-emb-lr6e-3": dict(_ADAM_LSTM, init="embedding", lr=6e-3),
    "lstm-512x2-emb-drop": dict(_ADAM_LSTM, init="embedding", layers=2, dropout=0.2),
    # Two layers with dropout and a cosine decay: one 512-unit layer at 5e-3
    # overfits within 10 minutes (train 1.03, held-out 1.85 nats/char).
    "lstm-512x2-drop25-cos": dict(_ADAM_LSTM, init="embedding", layers=2, dropout=0.25, lr=3e-3,
                                  schedule={"kind": "cosine", "floor": 0.1}),
    "lstm-384x2-drop20-cos": dict(_ADAM_LSTM, init="embedding", hidden=384, layers=2, dropout=0.2,
                                  lr=4e-3, schedule={"kind": "cosine", "floor": 0.1}),
    # char-rnn's optimizer: RMSprop with alpha 0.95.
    "lstm-512-rmsprop": dict(_ADAM_LSTM, optimizer="rmsprop", optimizer_settings={"alpha": 0.95}),
    "lstm-256x2-drop": dict(_ADAM_LSTM, hidden=256, layers=2, dropout=0.2),
    "lstm-512x2-drop": dict(_ADAM_LSTM, layers=2, dropout=0.2),
    "lstm-256": dict(_ADAM_LSTM, hidden=256),
    "lstm-128": dict(_ADAM_LSTM, hidden=128),
    "gru-512": dict(_ADAM_LSTM, cell="gru"),
    "rnn-512-adam": dict(_ADAM_LSTM, cell="rnn"),
    # crnn train --preset quality (crnn.presets.PRESETS["quality"]; a test
    # keeps the two equal).  Under torch: the same, fed by nn.Embedding.
    "quality": dict(_ADAM_LSTM, init="embedding", hidden=384, layers=2, dropout=0.2, lr=4e-3,
                    schedule={"kind": "cosine", "floor": 0.1}),
    # Small enough for --quick (seconds).
    "tiny-lstm": dict(_ADAM_LSTM, hidden=32, seq=16, batch=8, lr=1e-2),
}
# Issue 13's table: each optimizer at crnn's default rate for it (lr None)
# and default clipping (element-wise for adagrad, global norm otherwise).
for _cell in ("rnn", "lstm"):
    for _opt in ("adagrad", "adam", "adamw", "rmsprop", "sgd"):
        CONFIGS[f"{_cell}-512-{_opt}-default"] = dict(
            _ADAM_LSTM, cell=_cell, optimizer=_opt, lr=None,
            clip_mode="value" if _opt == "adagrad" else "norm")
# SGD at 512 units: the screen of rates behind crnn.optim's default for it.
for _cell in ("rnn", "lstm"):
    for _lr in (1e-2, 3e-2, 1e-1):
        CONFIGS[f"{_cell}-512-sgd-lr{_lr:g}"] = dict(_ADAM_LSTM, cell=_cell, optimizer="sgd", lr=_lr)
DEFAULT_ROWS = ["crnn:min-char-rnn", "crnn:lstm-512", "torch:lstm-512"]
QUICK_ROWS = ["crnn:min-char-rnn", "torch:tiny-lstm"]
QUICK = dict(budget=3.0, eval_every=1.0, train_chars=60_000, heldout_chars=5_000)


def import_crnn():
    """crnn as installed, else this repository's src/ (built in place)."""
    try:
        import crnn
    except ImportError:
        sys.path.insert(0, str(REPO / "src"))
        import crnn
    return crnn


def parse_rows(names: list[str]) -> list[tuple[str, str, dict]]:
    rows = []
    for name in names:
        impl, sep, key = name.partition(":")
        if not sep or impl not in ("crnn", "torch") or key not in CONFIGS:
            known = ", ".join(CONFIGS)
            raise SystemExit(f"error: unknown configuration {name!r}: use crnn:NAME or "
                             f"torch:NAME with NAME one of {known}")
        rows.append((name, impl, dict(CONFIGS[key])))
    return rows


# ----------------------------------------------------------------------
# Corpus

def load_corpus(choice: str, crnn) -> tuple[str, str]:
    """(text, description): "shakespeare" falls back to the built-in corpus
    when the file is absent; "builtin"; or a path."""
    if choice == "shakespeare":
        if SHAKESPEARE.exists():
            return SHAKESPEARE.read_text(encoding="utf-8"), f"tinyshakespeare ({SHAKESPEARE})"
        sys.stderr.write(f"note: {SHAKESPEARE} is absent; using crnn's built-in corpus\n")
        choice = "builtin"
    if choice == "builtin":
        import crnn.corpus

        return crnn.corpus.builtin_text(), "crnn.corpus.builtin_text() (Python stdlib source)"
    path = Path(choice)
    return path.read_text(encoding="utf-8"), str(path)


def write_data(text: str, crnn, folder: Path, quick: bool) -> tuple[dict, dict]:
    """Encode the corpus, split it (first 90% train, last 10% held out) and
    write the .npy files the children read.  The vocabulary is the whole
    text's, so the held-out part has no unknown characters."""
    import numpy as np
    try:  # the ids crnn's start state is read from, by crnn's own rule
        from crnn._modelutil import burn_in_ids
    except ImportError:  # crnn before the multi-cell CharRNN
        from crnn.model import _burn_in_ids as burn_in_ids

    vocab = crnn.Vocab.from_text(text)
    ids = crnn.data.encode_corpus(text, vocab)
    split = len(ids) - int(len(ids) * HELDOUT_FRACTION)
    train, heldout = ids[:split], ids[split:]
    if quick:
        train, heldout = train[:QUICK["train_chars"]], heldout[:QUICK["heldout_chars"]]
    paths = {key: str(folder / f"{key}.npy") for key in ("train", "heldout", "burn_in")}
    np.save(paths["train"], np.ascontiguousarray(train))
    np.save(paths["heldout"], np.ascontiguousarray(heldout))
    np.save(paths["burn_in"], burn_in_ids(train, vocab))
    paths["vocab"] = str(folder / "vocab.json")
    with open(paths["vocab"], "w", encoding="utf-8") as f:
        json.dump(list(vocab.chars), f)
    info = {"chars": len(ids), "train_chars": len(train), "heldout_chars": len(heldout),
            "vocab_size": len(vocab)}
    return paths, info


# ----------------------------------------------------------------------
# Running the rows

def eval_marks(budget: float, every: float) -> list[float]:
    marks = {round(every * k, 6) for k in range(1, int(budget / every) + 1)} if every > 0 else set()
    marks |= {m for m in REPORT_MARKS if m <= budget}
    marks.add(budget)
    return sorted(marks)


def has_torch(python: str) -> tuple[bool, str]:
    probe = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode == 0:
        return True, probe.stdout.strip()
    return False, (probe.stderr.strip().splitlines() or ["no output"])[-1]


def child_env(crnn, threads: int) -> dict:
    env = dict(os.environ)
    crnn_root = str(Path(crnn.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (crnn_root, env.get("PYTHONPATH")) if p)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_row(spec: dict, python: str, env: dict, folder: Path) -> dict:
    spec_path = folder / f"spec-{spec['index']}.json"
    result_path = folder / f"result-{spec['index']}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    started = time.perf_counter()
    proc = subprocess.run([python, str(HERE / "_quality_child.py"), str(spec_path), str(result_path)],
                          env=env)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not result_path.exists():
        return {"name": spec["name"], "impl": spec["impl"], "config": spec["config"],
                "failed": f"the child exited with status {proc.returncode} (its traceback is above)"}
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result["wall_seconds"] = wall
    return result


def run_all(args, rows, crnn, data_paths: dict, folder: Path) -> tuple[list[dict], dict]:
    torch_python = args.torch_python or sys.executable
    torch_ok, torch_note = (False, "not needed")
    if any(impl == "torch" for _, impl, _ in rows):
        torch_ok, torch_note = has_torch(torch_python)
        if not torch_ok:
            sys.stderr.write(f"note: {torch_python} cannot import torch ({torch_note}); "
                             "the torch rows are skipped (try --torch-python)\n")
    env = child_env(crnn, args.threads)
    results = []
    for index, (name, impl, cfg) in enumerate(rows):
        if impl == "torch" and not torch_ok:
            results.append({"name": name, "impl": impl, "config": cfg,
                            "skipped": f"torch is not importable by {torch_python}"})
            continue
        if impl == "torch" and args.torch_input:
            cfg["torch_input"] = args.torch_input
        speed_only = args.compare_torch_input
        spec = {"index": index, "name": name, "impl": impl, "config": cfg, "threads": args.threads,
                "seed": args.seed, "budget": args.budget,
                "marks": [] if speed_only else eval_marks(args.budget, args.eval_every),
                "eval_threads": args.eval_threads, "eval_at_zero": not speed_only, "sample": not speed_only, "data": data_paths}
        sys.stderr.write(f"{name}: {args.budget:g} s of training, {args.threads} thread(s), "
                         f"load {os.getloadavg()[0]:.2f}\n")
        results.append(run_row(spec, torch_python if impl == "torch" else sys.executable, env, folder))
        time.sleep(0.5)  # let a finished row's busy-waiting OpenMP workers go
    return results, {"torch_python": torch_python, "torch": torch_note if torch_ok else None}


def compare_torch_input(args, rows, crnn, data_paths: dict, folder: Path) -> list[dict]:
    """Train every torch row for the budget with each input layer (no
    evaluation but the last) and report the speeds: how the torch_input
    defaults of CONFIGS were chosen."""
    out = []
    for name, impl, cfg in rows:
        if impl != "torch":
            continue
        for mode in ("embedding", "onehot"):
            args.torch_input = mode
            results, _ = run_all(args, [(f"{name}[{mode}]", impl, dict(cfg))], crnn, data_paths, folder)
            out.extend(results)
    for r in out:
        print(f"{r['name']:32s} {_fmt(r.get('chars_per_sec'), '{:,.0f}'):>10s} chars/s  others "
              f"{_fmt(r.get('other_load_cores'), '{:.2f}')}  {r.get('skipped') or r.get('failed') or ''}")
    return out


# ----------------------------------------------------------------------
# Reporting

def at_mark(result: dict, mark: float):
    for point in result.get("curve", []):
        if mark in point["marks"]:
            return point["nats_per_char"]
    return None


def best_point(result: dict):
    points = [p for p in result.get("curve", []) if p["train_seconds"] > 0]
    return min(points, key=lambda p: p["nats_per_char"]) if points else None


def summarise(result: dict) -> dict:
    best = best_point(result)
    return {f"at_{int(m)}s": at_mark(result, m) for m in REPORT_MARKS} | {
        "best": best["nats_per_char"] if best else None,
        "best_at_seconds": best["train_seconds"] if best else None,
        "final": result["curve"][-1]["nats_per_char"] if result.get("curve") else None,
        "disturbed": disturbed(result),
    }


def disturbed(result: dict) -> bool:
    """Other processes took cores the row needed (as bench.py judges it)."""
    others = result.get("other_load_cores")
    return others is not None and others > (os.cpu_count() or 1) - result.get("threads", 1) + 0.25


def _fmt(value, spec="{:.4f}") -> str:
    return "-" if value is None else spec.format(value)


def print_table(results: list[dict], header: str) -> None:
    print(header)
    cols = ("configuration", "params", "iters", "chars/s", "others", "@2min", "@5min", "@10min",
            "best (at s)", "final", "note")
    lines = []
    for r in results:
        s = r.get("summary", {})
        best = "-" if s.get("best") is None else f"{s['best']:.4f} ({s['best_at_seconds']:.0f})"
        note = r.get("skipped") or r.get("failed") or r.get("diverged") or r.get("input", "")
        if disturbed(r):
            note = "DISTURBED by other load; " + note
        lines.append((r["name"], _fmt(r.get("param_count"), "{:,}"), _fmt(r.get("iterations"), "{:,}"),
                      _fmt(r.get("chars_per_sec"), "{:,.0f}"), _fmt(r.get("other_load_cores"), "{:.2f}"),
                      _fmt(s.get("at_120s")),
                      _fmt(s.get("at_300s")), _fmt(s.get("at_600s")), best, _fmt(s.get("final")), note))
    widths = [max(len(c), *(len(line[i]) for line in lines)) if lines else len(c)
              for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip())
    for line in lines:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip())
    print("(held-out nats/char at 2, 5 and 10 minutes of TRAINING time, evaluation not "
          "counted; '-' = not reached; others = cores' worth of CPU that OTHER processes "
          "used during the row: above CPUs - threads the row's figures are disturbed)")
    for r in results:
        if r.get("sample"):
            print(f"\n--- {r['name']} sample (final weights, temperature 1) ---\n{r['sample'][:300]}")


def plot(results: list[dict], path: Path, title: str) -> str:
    """Draw the curves; returns a note (the path, or why there is no plot)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no plot: matplotlib is not installed (pip install matplotlib)"
    rows = [r for r in results if r.get("curve")]
    if not rows:
        return "no plot: no row has a curve"
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    longest = max(p["train_seconds"] for r in rows for p in r["curve"])
    scale, unit = (60.0, "minutes") if longest >= 120 else (1.0, "seconds")
    tops = []
    for r in rows:
        xs = [p["train_seconds"] / scale for p in r["curve"]]
        ys = [p["nats_per_char"] for p in r["curve"]]
        style = "-" if r["impl"] == "crnn" else "--"
        ax.plot(xs, ys, style, marker="o", markersize=3, label=r["name"])
        trained = [y for x, y in zip(xs, ys) if x > 0]
        if trained:
            tops.append(trained[0])
    best = min(min(p["nats_per_char"] for p in r["curve"]) for r in rows)
    if tops:
        ax.set_ylim(best - 0.05, max(tops) + 0.05)
    for mark in REPORT_MARKS:
        if mark / scale <= ax.get_xlim()[1]:
            ax.axvline(mark / scale, color="0.8", linewidth=0.8, zorder=0)
    ax.set_xlabel(f"training time ({unit}; evaluation not counted)")
    ax.set_ylabel("held-out loss (nats/char)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="quality.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows", nargs="*", metavar="IMPL:NAME",
                    help=f"configurations to run (default: {' '.join(DEFAULT_ROWS)})")
    ap.add_argument("--budget", type=float, default=600.0, help="training seconds per row (600)")
    ap.add_argument("--threads", type=int, default=2, help="threads per row (2)")
    ap.add_argument("--corpus", default="shakespeare",
                    help="shakespeare (default; built-in if the file is absent), builtin, or a path")
    ap.add_argument("--eval-every", type=float, default=30.0,
                    help="seconds of training between evaluations (30); 2, 5, 10 min are always marks")
    ap.add_argument("--eval-threads", type=int, default=1,
                    help="threads while evaluating (1; evaluation is not timed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--torch-python", help="interpreter for the torch rows (default: this one)")
    ap.add_argument("--torch-input", choices=("embedding", "onehot"),
                    help="override every torch row's input layer")
    ap.add_argument("--compare-torch-input", action="store_true",
                    help="time each torch row with nn.Embedding and with one-hot input, then exit")
    ap.add_argument("--json", type=Path, help="output (default bench_results/quality-<corpus>-<time>.json)")
    ap.add_argument("--plot", type=Path, help="PNG (default: beside the JSON)")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run: {QUICK['budget']:g} s rows on a {QUICK['train_chars']:,}-char slice")
    ap.add_argument("--list", action="store_true", help="print the configurations and exit")
    args = ap.parse_args(argv)
    if args.quick:
        args.budget, args.eval_every = QUICK["budget"], QUICK["eval_every"]
    if args.threads < 1 or args.budget <= 0:
        ap.error("--threads must be >= 1 and --budget > 0")
    return args


def list_configs() -> None:
    keys = ("cell", "hidden", "layers", "seq", "batch", "optimizer", "lr", "schedule", "dropout",
            "dtype", "clip_mode", "clip", "optimizer_settings", "torch_input", "torch_loss")
    table = [("name",) + keys] + [(name,) + tuple(str(cfg.get(k)) for k in keys)
                                  for name, cfg in CONFIGS.items()]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip())


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        list_configs()
        return 0
    rows = parse_rows(args.rows or (QUICK_ROWS if args.quick else DEFAULT_ROWS))
    crnn = import_crnn()
    text, corpus_desc = load_corpus(args.corpus, crnn)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    corpus_tag = "builtin" if corpus_desc.startswith("crnn.") else Path(args.corpus).stem
    json_path = args.json or REPO / "bench_results" / f"quality-{corpus_tag}-{stamp}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crnn-quality-") as tmp:
        data_paths, corpus_info = write_data(text, crnn, Path(tmp), args.quick)
        load_start = os.getloadavg()
        if args.compare_torch_input:
            results = compare_torch_input(args, rows, crnn, data_paths, Path(tmp))
            json_path.write_text(json.dumps({"compare_torch_input": results, "load_start": load_start,
                                             "load_end": os.getloadavg()}, indent=1), encoding="utf-8")
            print(f"json: {json_path}")
            return 0
        results, torch_info = run_all(args, rows, crnn, data_paths, Path(tmp))
    for r in results:
        r["summary"] = summarise(r)
    meta = {"date_utc": stamp, "budget": args.budget, "threads": args.threads, "quick": args.quick,
            "eval_every": args.eval_every, "seed": args.seed, "corpus": corpus_desc, **corpus_info,
            "heldout": "last 10%, one stream from the start state", "crnn_commit": git_commit(),
            "crnn_file": crnn.__file__, "python": sys.version.split()[0], **torch_info,
            "load_start": load_start, "load_end": os.getloadavg(), "cpus": os.cpu_count()}
    header = (f"crnn quality benchmark: {corpus_desc}, {corpus_info['train_chars']:,} train / "
              f"{corpus_info['heldout_chars']:,} held-out chars, V={corpus_info['vocab_size']}, "
              f"budget {args.budget:g} s, {args.threads} thread(s), load "
              f"{load_start[0]:.2f} -> {meta['load_end'][0]:.2f} on {os.cpu_count()} CPUs")
    print_table(results, header)
    if not args.no_plot:
        meta["plot"] = plot(results, args.plot or json_path.with_suffix(".png"),
                            f"{corpus_tag}, {args.threads} thread(s), budget {args.budget:g} s")
        print(f"\nplot: {meta['plot']}")
    json_path.write_text(json.dumps({"meta": meta, "rows": results}, indent=1), encoding="utf-8")
    print(f"json: {json_path}")
    return 0 if all("failed" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
