"""crnn.schedules against crnn.reference.optim's formulas, and their specs."""

import json
import math

import pytest

from crnn import schedules
from crnn.errors import OptimizerError
from crnn.reference import optim as R

BASE = 2e-3
CASES = [
    ("constant", {}, lambda b, i: R.constant_lr(b, i)),
    ("step", {"factor": 0.97, "every": 100, "start": 1000},
     lambda b, i: R.step_lr(b, i, factor=0.97, every=100, start=1000)),
    ("step", {"factor": 0.5, "every": 3, "start": 0},
     lambda b, i: R.step_lr(b, i, factor=0.5, every=3, start=0)),
    ("cosine", {"total": 777, "floor": 0.1}, lambda b, i: R.cosine_lr(b, i, total=777, floor=0.1)),
    ("cosine", {"total": 1}, lambda b, i: R.cosine_lr(b, i, total=1)),
    ("warmup", {"iterations": 50},
     lambda b, i: R.warmup_lr(R.constant_lr, b, i, iterations=50)),
    ("warmup", {"iterations": 50, "inner": {"kind": "cosine", "total": 700, "floor": 0.2}},
     lambda b, i: R.warmup_lr(lambda b2, j: R.cosine_lr(b2, j, total=700, floor=0.2), b, i,
                              iterations=50)),
    ("warmup", {"iterations": 20, "inner": {"kind": "step", "every": 30, "factor": 0.9}},
     lambda b, i: R.warmup_lr(lambda b2, j: R.step_lr(b2, j, factor=0.9, every=30, start=30),
                              b, i, iterations=20)),
]


@pytest.mark.parametrize("kind,options,want", CASES, ids=[f"{k}{i}" for i, (k, _, _) in
                                                         enumerate(CASES)])
def test_schedule_matches_reference_and_round_trips(kind, options, want):
    s = schedules.make_schedule(kind, **options)
    for it in list(range(0, 1200, 7)) + [0, 1, 49, 50, 999, 1000, 1099, 1100, 10**9]:
        assert math.isclose(s.lr(BASE, it), want(BASE, it), rel_tol=1e-13, abs_tol=0), it
    spec = s.to_json()
    again = schedules.from_json(json.loads(json.dumps(spec)))
    assert again == s and again.to_json() == spec
    assert schedules.from_json(json.dumps(spec)) == s
    assert all(again.lr(BASE, it) == s.lr(BASE, it) for it in range(0, 2000, 13))


def test_char_rnn_decay():
    """char-rnn: x0.97 after each epoch from epoch 10 on (iterations counted from 0)."""
    epoch = 1000
    s = schedules.make_schedule("step", factor=0.97, every=epoch, start=10 * epoch)
    assert s.lr(1.0, 10 * epoch - 1) == 1.0
    assert s.lr(1.0, 10 * epoch) == 0.97
    assert s.lr(1.0, 11 * epoch - 1) == 0.97
    assert s.lr(1.0, 11 * epoch) == 0.97 ** 2


def test_warmup_ramps_linearly_then_hands_over():
    s = schedules.make_schedule("warmup", iterations=4)
    assert [s.lr(1.0, i) for i in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cosine_ends_at_its_floor():
    s = schedules.make_schedule("cosine", total=100, floor=0.1)
    assert s.lr(1.0, 0) == 1.0
    assert math.isclose(s.lr(1.0, 50), 0.55)
    assert s.lr(1.0, 100) == s.lr(1.0, 5000) == pytest.approx(0.1, rel=1e-15)


@pytest.mark.parametrize("kind,options,words", [
    ("linear", {}, "unknown learning-rate schedule"),
    ("constant", {"every": 3}, "no option every"),
    ("step", {}, "needs every"),
    ("step", {"every": 0}, "every"),
    ("step", {"every": 10, "factor": 0.0}, "factor"),
    ("step", {"every": 10, "factor": 1.5}, "factor"),
    ("step", {"every": 10, "start": -1}, "start"),
    ("step", {"every": 2.5}, "whole number"),
    ("cosine", {"total": 0}, "total"),
    ("cosine", {"total": 10, "floor": 2.0}, "floor"),
    ("warmup", {"iterations": True}, "iterations"),
    ("warmup", {"iterations": 5, "inner": {"total": 3}}, "kind"),
])
def test_bad_specs_raise_a_clear_error(kind, options, words):
    with pytest.raises(OptimizerError, match=words) as info:
        schedules.make_schedule(kind, **options)
    assert isinstance(info.value, ValueError)


def test_bad_calls_raise():
    s = schedules.make_schedule("constant")
    for it in (-1, 1.5, None):
        with pytest.raises(OptimizerError, match="iteration"):
            s.lr(0.1, it)
    for lr in (0.0, -1.0, float("nan"), "0.1"):
        with pytest.raises(OptimizerError, match="learning rate"):
            s.lr(lr, 0)
    with pytest.raises(OptimizerError, match="JSON"):
        schedules.from_json("{not json")
    with pytest.raises(OptimizerError, match="kind"):
        schedules.from_json({"total": 3})
