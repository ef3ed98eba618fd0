"""The progress line fits any terminal width; the bar survives notes; the
time-left estimate waits for a warm-up and follows the recent rate."""

import io
import math

import pytest
from hypothesis import given, settings, strategies as st

from crnn.progress import (
    EtaEstimator,
    ProgressLine,
    format_clock,
    format_si,
    render_progress,
)

TYPICAL = dict(iteration=71_086, target=300_000, elapsed=62.4, seconds_left=201.0,
               loss_per_char=1.33731, chars_per_sec=211_345.0)


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


# ----------------------------------------------------------------------
# render_progress


def test_wide_line_shows_everything_with_one_count():
    line = render_progress(200, **TYPICAL)
    assert line.startswith("[") and "]" in line
    assert "  23%  " in line  # floored: 23.7%
    assert "71,086/300,000" in line  # the model's total against the run's end, once
    assert line.count("/") == 2  # the count and chars/s: no second "this run" count
    for part in ("loss 1.337", "211k chars/s", "1:02 elapsed", "3:21 left"):
        assert part in line


def test_80_columns_keeps_bar_count_loss_and_eta():
    line = render_progress(80, **TYPICAL)
    assert len(line) <= 79
    assert line.startswith("[")
    assert "71,086/300,000" in line and "loss 1.337" in line and "left" in line


def test_40_columns_drops_bar_and_rate_first():
    line = render_progress(40, **TYPICAL)
    assert len(line) <= 39
    assert "[" not in line and "chars/s" not in line
    assert "71,086/300,000" in line and "loss 1.337" in line


def test_20_columns_still_shows_the_count():
    line = render_progress(20, **TYPICAL)
    assert len(line) <= 19
    assert "71.1k/300k" in line


@pytest.mark.parametrize("width", [-5, 0, 1])
def test_no_room_gives_empty_line(width):
    assert render_progress(width, **TYPICAL) == ""


def test_every_width_fits_and_narrower_never_shows_more():
    previous = None
    for width in range(200, 9, -1):
        line = render_progress(width, **TYPICAL)
        assert len(line) <= width - 1, (width, line)
        assert line, width
        if previous is not None:
            assert len(line) <= len(previous)
        previous = line


def test_order_of_dropping():
    """Elapsed time first, then the bar, the rate, the time left."""
    seen = [render_progress(w, **TYPICAL) for w in range(200, 9, -1)]
    first_without = {
        part: next(i for i, line in enumerate(seen) if part not in line)
        for part in ("]", "chars/s", "elapsed", "left", "loss")
    }
    order = sorted(first_without, key=first_without.get)
    assert order == ["elapsed", "]", "chars/s", "left", "loss"]


def test_no_target_shows_iteration_and_no_bar_unless_fraction_given():
    args = dict(TYPICAL, target=None, seconds_left=None)
    line = render_progress(120, **args)
    assert "iteration 71,086" in line and "[" not in line and "%" not in line
    timed = render_progress(120, **dict(args, fraction=0.5, seconds_left=30))
    assert timed.startswith("[") and " 50%" in timed and "0:30 left" in timed


def test_bar_fill_follows_fraction():
    empty = render_progress(100, **dict(TYPICAL, iteration=0))
    full = render_progress(100, **dict(TYPICAL, iteration=300_000))
    assert "#" not in empty.split("]")[0]
    assert "-" not in full.split("]")[0] and "100%" in full
    almost = render_progress(100, **dict(TYPICAL, iteration=299_999))
    assert "99%" in almost and "-" in almost.split("]")[0]  # 100% only when done


@settings(max_examples=300, deadline=None)
@given(
    width=st.integers(min_value=-2, max_value=260),
    iteration=st.integers(min_value=0, max_value=10**15),
    target=st.none() | st.integers(min_value=1, max_value=10**15),
    elapsed=st.floats(min_value=0, max_value=1e9),
    seconds_left=st.none() | st.floats(min_value=0, max_value=1e12),
    loss=st.floats(allow_nan=True, allow_infinity=True),
    rate=st.floats(min_value=0, allow_infinity=True),
    fraction=st.none() | st.floats(min_value=-1, max_value=2) | st.just(math.nan),
)
def test_any_figures_fit_any_width(width, iteration, target, elapsed, seconds_left, loss, rate, fraction):
    line = render_progress(width, iteration=iteration, target=target, elapsed=elapsed,
                           seconds_left=seconds_left, loss_per_char=loss,
                           chars_per_sec=rate, fraction=fraction)
    assert len(line) <= max(0, width - 1)
    assert "\n" not in line and "\r" not in line
    assert line.isascii()


def test_number_formats():
    assert format_si(211_345) == "211k" and format_si(1_234_567) == "1.23M" and format_si(12) == "12"
    assert format_clock(62) == "1:02" and format_clock(3725) == "1:02:05"
    assert format_clock(math.inf) == "?"


# ----------------------------------------------------------------------
# ProgressLine


def test_redraws_at_most_every_interval():
    clock, stream = FakeClock(), io.StringIO()
    line = ProgressLine(stream, clock=clock, width=80)
    assert line.update(**TYPICAL)  # the first update draws
    clock.advance(0.1)
    assert not line.update(**dict(TYPICAL, iteration=71_087))
    clock.advance(0.11)
    assert line.update(**dict(TYPICAL, iteration=71_088))
    assert stream.getvalue().count("\r") == 2
    assert "71,088/300,000" in stream.getvalue() and "71,087" not in stream.getvalue()


def test_note_prints_on_its_own_line_and_redraws_the_bar_at_once():
    clock, stream = FakeClock(), io.StringIO()
    line = ProgressLine(stream, clock=clock, width=80)
    line.update(**dict(TYPICAL, target=None, fraction=0.3))  # only --time-limit: a time bar
    line.note("iteration 10,000: saved 'm.npz'")
    out = stream.getvalue()
    before, after = out.split("iteration 10,000: saved 'm.npz'\n")
    assert before.endswith("\r") and before.rstrip("\r").strip(" \r").startswith("[")
    # Straight after the note, without any further update, the bar is back.
    assert after.startswith("\r[") and "iteration 71,086" in after


def test_shorter_line_blanks_the_tail_of_the_longer_one():
    stream = io.StringIO()
    width = [120]
    line = ProgressLine(stream, clock=FakeClock(), width=lambda: width[0], min_interval=0)
    line.update(**TYPICAL)
    first = stream.getvalue()[1:]
    line.update(**dict(TYPICAL, seconds_left=None))  # a shorter line, same width
    second = stream.getvalue()[len(first) + 2:]
    assert len(second) == len(first) and second.endswith(" ")  # the old tail is blanked
    width[0] = 40  # the terminal got narrower: padding stays within it
    line.update(**TYPICAL)
    assert len(stream.getvalue().rsplit("\r", 1)[1]) <= 39


def test_close_leaves_the_final_line_and_a_newline():
    stream = io.StringIO()
    with ProgressLine(stream, clock=FakeClock(), width=80) as line:
        line.update(**TYPICAL)
        line.update(**dict(TYPICAL, iteration=300_000))  # not due, but close draws it
    assert stream.getvalue().endswith("\n")
    assert "300,000/300,000" in stream.getvalue().rsplit("\r", 1)[1]


def test_clear_blanks_the_line():
    stream = io.StringIO()
    line = ProgressLine(stream, clock=FakeClock(), width=80)
    line.update(**TYPICAL)
    shown = len(stream.getvalue()) - 1
    line.clear()
    assert stream.getvalue().endswith("\r" + " " * shown + "\r")
    line.close()  # draws the final figures again, then ends the line
    assert stream.getvalue().endswith("\n")


# ----------------------------------------------------------------------
# EtaEstimator


def test_no_estimate_during_warm_up():
    clock = FakeClock()
    eta = EtaEstimator(0, target=1_000_000, clock=clock)
    clock.advance(1.0)
    eta.update(50_000)  # 5% done but only 1 s: still warming up
    assert eta.seconds_left() is None
    clock.advance(1.5)
    eta.update(125_000)
    assert eta.seconds_left() == pytest.approx(875_000 / 50_000)


def test_warm_up_waits_for_one_percent_of_the_work():
    clock = FakeClock()
    eta = EtaEstimator(0, target=1_000_000, clock=clock)
    for _ in range(50):  # 5 s at 1,000 iterations/s: only 0.5% done
        clock.advance(0.1)
        eta.update(eta._latest[1] + 100)
    assert eta.seconds_left() is None
    for _ in range(60):
        clock.advance(0.1)
        eta.update(eta._latest[1] + 100)
    assert eta.seconds_left() == pytest.approx((1_000_000 - 11_000) / 1_000)


def test_rate_follows_the_recent_window():
    clock = FakeClock()
    eta = EtaEstimator(0, target=10_000_000, clock=clock, window_seconds=10)
    iteration = 0
    for _ in range(300):  # 30 s at 10,000/s
        clock.advance(0.1)
        iteration += 1_000
        eta.update(iteration)
    for _ in range(150):  # then 15 s at 2,000/s: the window sees only the slow part
        clock.advance(0.1)
        iteration += 200
        eta.update(iteration)
    assert eta.rate() == pytest.approx(2_000, rel=1e-6)
    assert eta.seconds_left() == pytest.approx((10_000_000 - iteration) / 2_000, rel=1e-6)


def test_resumed_run_counts_only_its_own_work():
    clock = FakeClock()
    eta = EtaEstimator(200_000, target=300_000, clock=clock)
    clock.advance(3.0)
    eta.update(230_000)  # 10,000/s
    assert eta.seconds_left() == pytest.approx(7.0)


def test_deadline_alone_is_known_at_once_and_exact():
    clock = FakeClock()
    eta = EtaEstimator(0, deadline=clock() + 60, clock=clock)
    assert eta.seconds_left() == pytest.approx(60)
    clock.advance(70)
    assert eta.seconds_left() == 0.0


def test_deadline_and_target_take_the_sooner():
    clock = FakeClock()
    eta = EtaEstimator(0, target=1_000_000, deadline=clock() + 30, clock=clock)
    clock.advance(5)
    eta.update(100_000)  # 20,000/s: 45 s of work left, but 25 s to the deadline
    assert eta.seconds_left() == pytest.approx(25)
    clock.advance(1)
    eta.update(1_000_000 - 20_000)  # almost done: work ends first
    assert eta.seconds_left() < 24


def test_no_limits_no_estimate():
    clock = FakeClock()
    eta = EtaEstimator(0, clock=clock)
    clock.advance(10)
    eta.update(1000)
    assert eta.seconds_left() is None
    assert eta.rate() == pytest.approx(100)


def test_samples_stay_few_at_high_speed():
    clock = FakeClock()
    eta = EtaEstimator(0, target=10**9, clock=clock, window_seconds=20)
    for i in range(1, 200_001):  # 100 s of 2,000 updates a second
        clock.advance(0.0005)
        eta.update(i)
    assert len(eta._samples) <= 20 / EtaEstimator.SAMPLE_SECONDS + 2
