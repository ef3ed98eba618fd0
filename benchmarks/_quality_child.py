"""Child process of quality.py: trains ONE configuration and scores it.

Why a fresh process per configuration: crnn's kernels and PyTorch each
bring an OpenMP runtime (both named ``libgomp.so.1``; in one process the
loader keeps whichever comes first) and their own thread pools; a fresh
process gives every row its own runtime, with its thread count set before
any parallel work, as a user's script would have it.

Usage (quality.py builds the spec): ``python _quality_child.py SPEC.json
RESULT.json``.  The spec names the implementation ("crnn" or "torch"), the
configuration, the data files (.npy ids written by the parent), the budget
and the evaluation marks (seconds of TRAINING time).  Progress goes to
standard error; the result is written as JSON to RESULT.json.

The clock: training runs in short slices (``train(k iterations)``), each
timed with perf_counter; only those slices count toward the budget.
Evaluation (and sampling) happens between slices with the clock stopped.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

SLICE_SECONDS = 0.5  # a training slice lasts about this long (less near a mark)
SAMPLE_CHARS = 300  # characters sampled from the final model for the JSON
CALIBRATION_SECONDS = 3.0  # speed probe that sizes a schedule's total steps


class Diverged(Exception):
    """The training loss became non-finite (or crnn raised TrainingDivergedError)."""


class Unsupported(Exception):
    """This build of crnn (or torch) cannot run the configuration."""


def log(spec: dict, message: str) -> None:
    sys.stderr.write(f"  [{spec['name']}] {message}\n")
    sys.stderr.flush()


def load_data(spec: dict) -> dict:
    import numpy as np

    data = {key: np.load(spec["data"][key]) for key in ("train", "heldout", "burn_in")}
    with open(spec["data"]["vocab"], encoding="utf-8") as f:
        data["chars"] = json.load(f)
    return data


def make_runner(spec: dict, data: dict, schedule_total: int | None):
    if spec["impl"] == "torch":
        from _quality_torch import TorchRunner

        return TorchRunner(spec["config"], data, spec["threads"], spec["seed"], schedule_total)
    return CrnnRunner(spec["config"], data, spec["threads"], spec["seed"], schedule_total)


class CrnnRunner:
    """One crnn.CharRNN trained through the public API in slices."""

    def __init__(self, cfg: dict, data: dict, threads: int, seed: int,
                 schedule_total: int | None) -> None:
        import inspect

        import crnn

        self.crnn = crnn
        self.train_ids = data["train"]
        self.heldout = data["heldout"]
        vocab = crnn.Vocab(data["chars"])
        kwargs = dict(hidden_size=cfg["hidden"], seq_length=cfg["seq"], batch_size=cfg["batch"],
                      learning_rate=cfg["lr"], dtype=cfg["dtype"], seed=seed, n_threads=threads)
        if "cell" in inspect.signature(crnn.CharRNN).parameters:
            schedule = None
            if cfg.get("schedule"):
                schedule = dict(cfg["schedule"], total=schedule_total)
            kwargs.update(cell=cfg["cell"], num_layers=cfg["layers"], dropout=cfg["dropout"],
                          optimizer=cfg["optimizer"], grad_clip=cfg["clip"],
                          clip_mode=cfg["clip_mode"], lr_schedule=schedule,
                          optimizer_settings=cfg.get("optimizer_settings"), init=cfg.get("init"))
        else:
            legacy = (cfg["cell"] == "rnn" and cfg["layers"] == 1 and cfg["optimizer"] == "adagrad"
                      and cfg["clip_mode"] == "value" and cfg["clip"] == 5.0
                      and not cfg.get("schedule") and not cfg["dropout"])
            if not legacy:
                raise Unsupported("this crnn has only the tanh RNN + Adagrad (no cell=, "
                                  "optimizer=, ... in CharRNN); update crnn")
        self.model = crnn.CharRNN(vocab, **kwargs)
        self.seq = cfg["seq"]
        self.input_mode = "one-hot gather (crnn)"

    @property
    def param_count(self) -> int:
        return int(self.model.param_count)

    def train(self, iterations: int) -> float:
        try:
            self.model.train(self.train_ids, iterations=iterations)
        except self.crnn.TrainingDivergedError as exc:
            raise Diverged(str(exc)) from exc
        return float(self.model.smooth_loss) / self.seq  # nats/char, smoothed

    def evaluate(self, threads: int) -> float:
        training_threads, self.model.n_threads = self.model.n_threads, threads
        try:
            return float(self.model.evaluate(self.heldout)["nats_per_char"])
        finally:
            self.model.n_threads = training_threads

    def sample(self, n: int) -> str:
        return self.model.sample(n, seed=0)


def training_marks(spec: dict) -> list[float]:
    return sorted(set(float(m) for m in spec["marks"] if 0 < m <= spec["budget"]) | {float(spec["budget"])})


def calibrate(spec: dict, data: dict) -> tuple[int, float]:
    """Steps a throwaway model of this configuration makes in the budget
    (the total a schedule needs before training starts); not counted."""
    cfg = dict(spec["config"], schedule=None)
    runner = make_runner(dict(spec, config=cfg), data, None)
    runner.train(1)  # allocation and first-call costs are not the rate
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < CALIBRATION_SECONDS:
        runner.train(1)
        done += 1
    rate = done / (time.perf_counter() - t0)
    return max(1, int(rate * spec["budget"])), rate


class Clock:
    """Training time so far, and how many iterations the next slice gets."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0
        self.iterations = 0
        self.per_iteration: float | None = None
        self.last_slice = 1

    def slice_size(self, until: float) -> int:
        """Iterations for about SLICE_SECONDS (less before a mark); at most
        twice the last slice, so a speed drop (first calls are often
        faster than the steady state; other load) overshoots a mark little."""
        if self.per_iteration is None:
            return 1
        wanted = int(min(until - self.seconds, SLICE_SECONDS) / self.per_iteration)
        return max(1, min(wanted, 2 * self.last_slice))

    def run(self, runner, k: int) -> float:
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            loss = runner.train(k)
        finally:
            dt = time.perf_counter() - t0
            self.cpu += time.process_time() - c0
            self.seconds += dt
        self.iterations += k
        self.per_iteration = dt / k
        self.last_slice = k
        return loss

    def reached(self, mark: float) -> bool:
        # Within half an iteration of the mark counts as there: one more
        # iteration would overshoot it by more than stopping short does.
        half = 0.5 * (self.per_iteration or 0.0)
        return self.seconds >= mark - half


def cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat (Linux), else None."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def other_load(before, after, own_cpu_seconds: float, wall: float) -> float | None:
    """Cores' worth of CPU time taken by OTHER processes between two
    cpu_jiffies() readings (this process's own CPU time subtracted)."""
    if before is None or after is None or wall <= 0:
        return None
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = (after[0] - before[0]) / tick
    return max(0.0, (busy - own_cpu_seconds) / wall)


def evaluate_point(runner, clock: Clock, marks: list[float], chars_per_iteration: int,
                   threads: int) -> dict:
    t0 = time.perf_counter()
    nats = runner.evaluate(threads)
    return {"train_seconds": round(clock.seconds, 4), "iterations": clock.iterations,
            "chars": clock.iterations * chars_per_iteration, "nats_per_char": nats,
            "eval_seconds": round(time.perf_counter() - t0, 3), "marks": marks}


def train_with_marks(spec: dict, runner, result: dict) -> None:
    """Train until the budget, evaluating at every mark (clock stopped)."""
    cfg = spec["config"]
    chars_per_iteration = cfg["seq"] * cfg["batch"]
    marks = training_marks(spec)
    clock = Clock()
    curve = result["curve"]
    if spec["eval_at_zero"]:
        curve.append(evaluate_point(runner, clock, [0.0], chars_per_iteration, spec["eval_threads"]))
    last_log = 0.0
    try:
        while marks:
            loss = clock.run(runner, clock.slice_size(marks[0]))
            reached = [m for m in marks if clock.reached(m)]
            if reached:
                marks = [m for m in marks if m not in reached]
                point = evaluate_point(runner, clock, reached, chars_per_iteration,
                                       spec["eval_threads"])
                point["train_loss"] = loss
                curve.append(point)
                log(spec, f"{clock.seconds:7.1f} s  iteration {clock.iterations:,}  "
                          f"train {loss:.4f}  held-out {point['nats_per_char']:.4f} nats/char  "
                          f"(eval {point['eval_seconds']:.1f} s)")
                last_log = clock.seconds
            elif clock.seconds - last_log >= 30:
                log(spec, f"{clock.seconds:7.1f} s  iteration {clock.iterations:,}  train {loss:.4f}")
                last_log = clock.seconds
            if not math.isfinite(loss):
                raise Diverged(f"training loss {loss}")
    except Diverged as exc:
        result["diverged"] = f"at {clock.seconds:.1f} s of training: {exc}"
        log(spec, "diverged: " + result["diverged"])
    result["train_seconds"] = clock.seconds
    result["train_cpu_seconds"] = clock.cpu
    result["iterations"] = clock.iterations
    result["chars"] = clock.iterations * chars_per_iteration
    result["chars_per_sec"] = result["chars"] / clock.seconds if clock.seconds else None


def run(spec: dict) -> dict:
    if spec["impl"] == "torch":
        import torch  # first, so crnn's OpenMP runtime is never loaded here

        torch.set_num_threads(spec["threads"])
        torch.set_num_interop_threads(1)
    data = load_data(spec)
    result = {"name": spec["name"], "impl": spec["impl"], "config": spec["config"],
              "threads": spec["threads"], "budget": spec["budget"], "curve": [],
              "load_before": os.getloadavg()}
    schedule_total = None
    if spec["config"].get("schedule"):
        schedule_total, rate = calibrate(spec, data)
        result["schedule_total"] = schedule_total
        log(spec, f"schedule sized to {schedule_total:,} iterations ({rate:.1f} it/s in a "
                  f"{CALIBRATION_SECONDS:g} s probe, not counted)")
    jiffies, cpu0, wall0 = cpu_jiffies(), time.process_time(), time.perf_counter()
    runner = make_runner(spec, data, schedule_total)
    result["param_count"] = runner.param_count
    result["input"] = runner.input_mode
    result.update(getattr(runner, "versions", {}))
    log(spec, f"{runner.param_count:,} parameters, input {runner.input_mode}; training "
              f"{spec['budget']:g} s")
    train_with_marks(spec, runner, result)
    if spec["sample"] and "diverged" not in result:
        result["sample"] = runner.sample(SAMPLE_CHARS)
    result["load_after"] = os.getloadavg()
    result["other_load_cores"] = other_load(jiffies, cpu_jiffies(), time.process_time() - cpu0,
                                            time.perf_counter() - wall0)
    return result


def main() -> None:
    spec_path, result_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        result = run(spec)
    except Unsupported as exc:
        result = {"name": spec["name"], "impl": spec["impl"], "skipped": str(exc)}
        log(spec, "skipped: " + str(exc))
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
