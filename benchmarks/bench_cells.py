"""LSTM / GRU / stacked-layer benchmarks: crnn's network kernels against PyTorch.

    python benchmarks/bench_cells.py [--quick] [--repeats N] [--json PATH]
                                     [--torch-python PATH] [--rows NAME,...]

Each row times crnn and PyTorch on the same sizes and thread count, float32,
V = 65 (tinyshakespeare's alphabet), random ids:

  train   one chunk = forward + backward + a plain SGD update (crnn: two
          NumPy passes over the flat buffer; PyTorch: torch.optim.SGD);
          chars/s = B*T / time per chunk.
          PyTorch is fed by nn.Embedding(V, H) (what a PyTorch char-rnn
          script does), then nn.LSTM/nn.GRU(H, H, L), nn.Linear(H, V), loss =
          sum over time of cross-entropy / B.
  sample  one stream, chars/s of generation (crnn: net_sample; PyTorch: a
          torch.no_grad() loop of embedding, cell, linear, softmax,
          multinomial).

Times are medians of --repeats runs of about a second each, after a warm-up.
PyTorch rows run in their own process (its own OpenMP runtime, as for its
users; see _worker.py), with torch.set_num_threads(threads).

Peak FLOP/s is measured by a tight FMA loop in C (compiled here with the
system's cc, -O2 -mavx2 -mfma -fopenmp: 10 independent 8-lane float
multiply-add chains per thread, enough to fill both FMA pipes).  The model's
FLOPs per chunk count the matrix products only (2 per multiply-add):
recurrent (forward, backward into h, dW_hh), input projections of layers > 0
(3 products), output layer (3 products).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

V = 65
HERE = os.path.dirname(os.path.abspath(__file__))

# name, cell, layers, H, T, B, mode, threads
ROWS = [
    ("lstm-h512-t64-b32-1t", "lstm", 1, 512, 64, 32, "train", 1),
    ("lstm-h512-t64-b32-2t", "lstm", 1, 512, 64, 32, "train", 2),
    ("gru-h512-t64-b32-1t", "gru", 1, 512, 64, 32, "train", 1),
    ("gru-h512-t64-b32-2t", "gru", 1, 512, 64, 32, "train", 2),
    ("lstm2-h128-t50-b50-1t", "lstm", 2, 128, 50, 50, "train", 1),
    ("lstm2-h128-t50-b50-2t", "lstm", 2, 128, 50, 50, "train", 2),
    ("lstm-h128-t25-b1", "lstm", 1, 128, 25, 1, "train", 1),
    ("lstm-h128-sample", "lstm", 1, 128, 0, 1, "sample", 1),
    ("lstm-h512-sample", "lstm", 1, 512, 0, 1, "sample", 1),
]
TARGETS = {  # row name prefix -> minimum speed-up over PyTorch
    "lstm-h512-t64": 1.25, "gru-h512": 1.25, "lstm2-h128": 3.0,
    "lstm-h128-t25": 5.0, "lstm-h128-sample": 10.0, "lstm-h512-sample": 2.0,
}


def train_flops(cell, L, H, T, B):
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    mac = B * T * (3 * L * G * H * H + 3 * (L - 1) * G * H * H + 3 * H * V)
    return 2.0 * mac


# ---------------------------------------------------------------- runners

class CrnnTrain:
    def __init__(self, cell, L, H, T, B, threads, seed=0):
        from crnn import _kernels as K
        from crnn import netparams as NP
        rng = np.random.default_rng(seed)
        self.K, self.threads = K, threads
        self.kw = dict(cell=cell, num_layers=L, hidden_size=H, vocab_size=V)
        self.params = NP.init_params(cell, L, H, V, rng, dtype=np.float32)
        self.step = np.zeros_like(self.params)
        self.grads = np.zeros_like(self.params)
        self.work = np.zeros(K.net_workspace_size(cell, L, B, T, H, V, True), np.float32)
        S = K.net_state_width(cell, H)
        self.state = np.zeros((L, B, S), np.float32)
        self.ids = rng.integers(0, V, (B, T + 1), dtype=np.int32)
        self.inputs = np.ascontiguousarray(self.ids[:, :-1])
        self.targets = np.ascontiguousarray(self.ids[:, 1:])
        self.chars = B * T

    def run(self, n):
        K = self.K
        for _ in range(n):
            K.net_forward(self.work, self.state, self.params, self.inputs, self.targets,
                          self.state, n_threads=self.threads, **self.kw)
            self.grads[...] = 0
            K.net_backward(self.grads, None, self.work, self.params, self.inputs,
                           self.targets, n_threads=self.threads, **self.kw)
            # plain SGD, as the PyTorch rows use (two passes, no allocation)
            np.multiply(self.grads, np.float32(1e-3), out=self.step)
            np.subtract(self.params, self.step, out=self.params)
        return n * self.chars


class CrnnSample:
    def __init__(self, cell, L, H, threads, seed=0, n=2000):
        from crnn import _kernels as K
        from crnn import netparams as NP
        rng = np.random.default_rng(seed)
        self.K = K
        self.kw = dict(cell=cell, num_layers=L, hidden_size=H, vocab_size=V)
        self.params = NP.init_params(cell, L, H, V, rng, dtype=np.float32)
        self.state = np.zeros((L, 1, K.net_state_width(cell, H)), np.float32)
        self.work = np.zeros(K.net_sample_workspace_size(cell, L, H, V), np.float32)
        self.n = n
        self.out = np.zeros(n, np.int32)
        self.uniforms = rng.uniform(size=n)

    def run(self, n):
        for _ in range(n):
            self.K.net_sample(self.out, self.state, self.work, self.params, 0,
                              self.uniforms, 1.0, **self.kw)
        return n * self.n


class TorchTrain:
    def __init__(self, cell, L, H, T, B, threads, seed=0):
        import torch
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.torch = torch
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
        self.emb = torch.nn.Embedding(V, H)
        self.rnn = cls(H, H, L)
        self.out = torch.nn.Linear(H, V)
        params = list(self.emb.parameters()) + list(self.rnn.parameters()) + list(
            self.out.parameters())
        self.opt = torch.optim.SGD(params, lr=1e-3)
        ids = torch.randint(0, V, (T + 1, B))
        self.inputs, self.targets = ids[:-1], ids[1:].reshape(-1)
        self.B, self.chars = B, B * T

    def run(self, n):
        torch = self.torch
        for _ in range(n):
            self.opt.zero_grad()
            ys, _ = self.rnn(self.emb(self.inputs))
            logits = self.out(ys).reshape(-1, V)
            loss = torch.nn.functional.cross_entropy(logits, self.targets,
                                                     reduction="sum") / self.B
            loss.backward()
            self.opt.step()
        return n * self.chars


class TorchSample:
    def __init__(self, cell, L, H, threads, seed=0, n=200):
        import torch
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.torch = torch
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
        self.emb = torch.nn.Embedding(V, H)
        self.rnn = cls(H, H, L)
        self.out = torch.nn.Linear(H, V)
        self.n = n

    def run(self, n):
        torch = self.torch
        with torch.no_grad():
            for _ in range(n):
                x, state = torch.zeros(1, 1, dtype=torch.long), None
                for _ in range(self.n):
                    y, state = self.rnn(self.emb(x), state)
                    p = torch.softmax(self.out(y[0, 0]), dim=-1)
                    x = torch.multinomial(p, 1).view(1, 1)
        return n * self.n


def make_runner(impl, cell, L, H, T, B, mode, threads):
    if mode == "train":
        return (CrnnTrain if impl == "crnn" else TorchTrain)(cell, L, H, T, B, threads)
    return (CrnnSample if impl == "crnn" else TorchSample)(cell, L, H, threads)


def measure(runner, repeats, quick):
    """Median chars/s over repeats of ~target seconds each, after a warm-up:
    by wall-clock time, and by the process's CPU time (which, for one
    thread, is robust to other processes taking turns on the cores)."""
    target = 0.3 if quick else 1.0
    t0 = time.perf_counter()
    chars = runner.run(1)
    once = max(time.perf_counter() - t0, 1e-6)
    n = max(1, int(target / once))
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        chars = runner.run(n)
        t1, c1 = time.perf_counter(), time.process_time()
        wall.append(chars / (t1 - t0))
        cpu.append(chars / max(c1 - c0, 1e-9))
    return statistics.median(wall), statistics.median(cpu)


def worker(spec_json):
    spec = json.loads(spec_json)
    runner = make_runner("torch", *spec["row"][1:])
    wall, cpu = measure(runner, spec["repeats"], spec["quick"])
    print(json.dumps({"wall": wall, "cpu": cpu}))


def torch_row(python, row, repeats, quick):
    spec = json.dumps({"row": row, "repeats": repeats, "quick": quick})
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    r = subprocess.run([python, os.path.abspath(__file__), "--worker", spec],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        print(r.stderr, file=sys.stderr)
        return None
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return out["wall"], out["cpu"]


# ---------------------------------------------------------------- peak

FMA_SOURCE = r"""
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    const int nt = atoi(argv[1]);
    const long iters = 2000000000L;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = omp_get_wtime();
        float sink = 0;
#pragma omp parallel num_threads(nt) reduction(+ : sink)
        {
            const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-7f);
#define ACC(i) __m256 a##i = _mm256_set1_ps((float)i);
            ACC(0) ACC(1) ACC(2) ACC(3) ACC(4) ACC(5) ACC(6) ACC(7) ACC(8) ACC(9)
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, x, y);
            for (long k = 0; k < iters / 10 / 8; k++) {
                STEP(0) STEP(1) STEP(2) STEP(3) STEP(4)
                STEP(5) STEP(6) STEP(7) STEP(8) STEP(9)
            }
            __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                     _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
            s = _mm256_add_ps(s, _mm256_add_ps(a8, a9));
            sink += s[0];
        }
        double t = omp_get_wtime() - t0;
        double flops = 2.0 * (iters / 10 / 8) * 10 * 8 * nt / t;
        if (flops > best) best = flops;
        if (sink == 12345) puts("");
    }
    printf("%.6e\n", best);
    return 0;
}
"""


def peak_flops(threads):
    """f32 FLOP/s of a tight FMA loop on `threads` threads, or None."""
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "fma.c"), os.path.join(tmp, "fma")
        with open(src, "w") as f:
            f.write(FMA_SOURCE)
        try:
            subprocess.run(["cc", "-O2", "-mavx2", "-mfma", "-fopenmp", src, "-o", exe],
                           check=True, capture_output=True)
            out = subprocess.run([exe, str(threads)], check=True, capture_output=True,
                                 text=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
    return float(out.strip())


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default="bench_results/bench_cells.json")
    ap.add_argument("--torch-python", default=sys.executable)
    ap.add_argument("--rows", default="", help="comma-separated row names (default: all)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    wanted = set(filter(None, args.rows.split(",")))
    rows = [r for r in ROWS if not wanted or r[0] in wanted]
    peaks = {n: peak_flops(n) for n in sorted({r[7] for r in rows})}
    results = {"load_before": os.getloadavg(), "peak_flops_f32": peaks, "rows": []}
    print(f"load average before: {os.getloadavg()}; FMA-loop peak f32 FLOP/s: "
          + ", ".join(f"{n} thread(s) {p / 1e9:.1f} G" for n, p in peaks.items() if p))
    head = (f"{'row':24} {'crnn chars/s':>13} {'torch chars/s':>14} {'speed-up':>9} "
            f"{'target':>7} {'GFLOP/s':>8} {'% peak':>7}  extra")
    print(head)
    print("-" * len(head))
    for row in rows:
        name, cell, L, H, T, B, mode, threads = row
        crnn, crnn_cpu = measure(make_runner("crnn", *row[1:]), args.repeats, args.quick)
        torch = torch_cpu = None
        if not args.no_torch:
            got = torch_row(args.torch_python, list(row), args.repeats, args.quick)
            if got:
                torch, torch_cpu = got
        entry = {"row": name, "cell": cell, "layers": L, "H": H, "T": T, "B": B,
                 "mode": mode, "threads": threads, "crnn_chars_per_s": crnn,
                 "torch_chars_per_s": torch, "crnn_chars_per_cpu_s": crnn_cpu,
                 "torch_chars_per_cpu_s": torch_cpu}
        target = next((v for k, v in TARGETS.items() if name.startswith(k)), None)
        extra = ""
        gflops = pct = None
        if mode == "train":
            gflops = crnn / (B * T) * train_flops(cell, L, H, T, B) / 1e9
            if peaks.get(threads):
                pct = 100 * gflops * 1e9 / peaks[threads]
        else:
            G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
            nbytes = 4 * (L * G * H * H + (L - 1) * G * H * H + V * H)  # weights read per char
            entry["bytes_per_char"] = nbytes
            entry["GB_per_s"] = crnn * nbytes / 1e9
            extra = f"{nbytes / 1e6:.2f} MB/char, {entry['GB_per_s']:.1f} GB/s"
        speedup = crnn / torch if torch else None
        cpu_speedup = crnn_cpu / torch_cpu if torch_cpu and threads == 1 else None
        if cpu_speedup:
            extra += f"{'; ' if extra else ''}by CPU time: {crnn_cpu:,.0f} vs {torch_cpu:,.0f} = {cpu_speedup:.2f}x"
        entry.update(speedup=speedup, cpu_speedup=cpu_speedup, target=target, gflops=gflops,
                     pct_peak=pct)
        results["rows"].append(entry)
        fmt = lambda x, f: format(x, f) if x is not None else "-"
        print(f"{name:24} {crnn:13,.0f} {fmt(torch, '14,.0f')} {fmt(speedup, '8.2f')}x "
              f"{fmt(target, '6.2f')}x {fmt(gflops, '8.1f')} {fmt(pct, '6.1f')}%  {extra}",
              flush=True)
    results["load_after"] = os.getloadavg()
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
