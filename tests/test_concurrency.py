"""Concurrent use inside an application: the kernels release the GIL, and
what runs in threads computes exactly what runs one after the other.

(How much faster two training threads are than one after the other is a
speed figure, measured by scripts/concurrency_bench.py, not asserted here.)
"""

import os
import threading

import numpy as np
import pytest

import crnn

TEXT = "".join(f"{i}: a rose is a rose is a rose; the quick brown fox jumps.\n" for i in range(80))
VOCAB = crnn.Vocab.from_text(TEXT)


def run_in_threads(functions):
    """Run each function in its own thread, all released at the same moment;
    returns their results in order, re-raising any exception."""
    barrier = threading.Barrier(len(functions))
    results, errors = [None] * len(functions), []

    def worker(i, function):
        try:
            barrier.wait()
            results[i] = function()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a thread hung"
    if errors:
        raise errors[0]
    return results


def snapshot(model):
    return {name: array.copy() for name, array in model.params.items()} | {
        "m" + name: array.copy() for name, array in model.memory.items()
    }


def assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name


MODELS = [
    dict(hidden_size=24, seq_length=12, seed=1),
    dict(hidden_size=16, seq_length=9, batch_size=3, dtype="float32", seed=2),
    dict(hidden_size=20, seq_length=7, learning_rate=0.05, seed=3),
]


def train(kwargs, iterations=300):
    model = crnn.CharRNN(VOCAB, **kwargs)
    model.train(TEXT, iterations=iterations)
    return model


def test_models_trained_in_threads_equal_models_trained_one_after_another():
    sequential = [snapshot(train(kwargs)) for kwargs in MODELS]
    threaded = run_in_threads([lambda kwargs=kwargs: snapshot(train(kwargs)) for kwargs in MODELS])
    for a, b in zip(sequential, threaded):
        assert_same(a, b)


def test_two_threads_each_training_its_own_model_many_short_calls():
    """Many short train() calls interleave the threads at every call boundary."""
    def chunks(kwargs):
        model = crnn.CharRNN(VOCAB, **kwargs)
        for _ in range(60):
            model.train(TEXT, iterations=5)
        return snapshot(model)

    sequential = [snapshot(train(kwargs)) for kwargs in MODELS[:2]]
    threaded = run_in_threads([lambda kwargs=kwargs: chunks(kwargs) for kwargs in MODELS[:2]])
    for a, b in zip(sequential, threaded):
        assert_same(a, b)


@pytest.fixture(scope="module")
def trained():
    return train(dict(hidden_size=32, seq_length=16, seed=5), iterations=400)


def test_many_threads_sampling_one_model_give_the_sequential_texts(trained):
    jobs = [dict(n=400, seed=seed, temperature=t, prime=p)
            for seed, (t, p) in enumerate([(1.0, ""), (0.5, "a rose"), (0.0, "the"), (1.5, "")] * 4)]
    expected = [trained.sample(**job) for job in jobs]
    got = run_in_threads([lambda job=job: trained.sample(**job) for job in jobs])
    assert got == expected
    assert len(set(expected)) > 4  # the jobs really differ


def test_generators_interleaved_in_one_thread_and_across_threads(trained):
    expected = [trained.sample(300, seed=s) for s in range(6)]
    generators = [trained.generate(300, seed=s) for s in range(6)]
    interleaved = [""] * 6
    for _ in range(300):  # one character from each generator in turn
        for i, generator in enumerate(generators):
            interleaved[i] += next(generator)
    assert interleaved == expected
    got = run_in_threads([lambda s=s: "".join(trained.generate(300, seed=s)) for s in range(6)])
    assert got == expected


def test_evaluate_and_sample_while_another_model_trains(trained):
    before = snapshot(trained)
    expected_eval = trained.evaluate(TEXT)
    expected_text = trained.sample(500, seed=11)
    reference = snapshot(train(MODELS[0]))
    results = run_in_threads(
        [lambda: snapshot(train(MODELS[0]))]
        + [lambda: trained.evaluate(TEXT) for _ in range(3)]
        + [lambda: trained.sample(500, seed=11) for _ in range(3)]
    )
    assert_same(results[0], reference)
    assert results[1:4] == [expected_eval] * 3
    assert results[4:] == [expected_text] * 3
    assert_same(snapshot(trained), before)  # evaluating and sampling never change the model


def test_kernel_threads_inside_threads():
    """Kernel-level threads (n_threads) inside application threads: same numbers."""
    def with_threads(kwargs, n_threads):
        model = crnn.CharRNN(VOCAB, **kwargs)
        model.n_threads = n_threads
        model.train(TEXT, iterations=100)
        return snapshot(model)

    kwargs = dict(hidden_size=16, seq_length=8, batch_size=4, seed=9)
    expected = with_threads(kwargs, 1)
    for got in run_in_threads([lambda: with_threads(kwargs, 2) for _ in range(2)]):
        for name in expected:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-12)


def _thread_cpu_ticks(native_id):
    """User + system CPU time of one thread of this process, in clock ticks (Linux)."""
    with open(f"/proc/self/task/{native_id}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
def test_a_kernel_call_releases_the_gil():
    """While one thread is inside a single long kernel call, another thread
    keeps running Python and watches the first one's CPU time grow.  A call
    that held the GIL would freeze the watcher for the whole call, so it
    could see at most the values before and after it.  (No timing: this
    holds on one core or many, busy or idle.)"""
    from crnn import _kernels

    H, V, T = 160, 64, 40_000
    rng = np.random.default_rng(0)
    params = rng.standard_normal(_kernels.param_count(H, V)) * 0.05
    inputs = rng.integers(0, V, size=(1, T), dtype=np.int32)
    work = np.empty(_kernels.forward_workspace_size(1, T, H, V))
    h0, h_last = np.zeros((1, H)), np.empty((1, H))
    state = {"inside": False, "done": False}

    def call():
        state["id"] = threading.get_native_id()
        state["inside"] = True
        _kernels.forward(work, h_last, params, inputs, None, h0)
        state["done"] = True

    worker = threading.Thread(target=call)
    worker.start()
    while not state["inside"]:
        pass
    seen = set()
    while not state["done"]:
        try:
            seen.add(_thread_cpu_ticks(state["id"]))
        except OSError:  # the thread has just ended
            break
    worker.join()
    assert len(seen) >= 4, f"the worker's CPU time changed only {len(seen)} times while the watcher ran"
