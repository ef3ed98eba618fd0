"""TrainingProgress: crnn train's progress, on a terminal and in a log."""

import io
import re

from crnn.training_progress import TrainingProgress


class FakeClock:
    def __init__(self):
        self.now = 500.0

    def __call__(self):
        return self.now


def _info(iteration, smooth_loss=25 * 1.5, chars_per_sec=1e5):
    return {"iteration": iteration, "loss": smooth_loss, "smooth_loss": smooth_loss,
            "chars_per_sec": chars_per_sec}


def _run(progress, clock, start, stop, per_second=1000, notes=()):
    """Iterations start+1..stop at per_second, with notes after some of them."""
    with progress:
        for iteration in range(start + 1, stop + 1):
            clock.now += 1 / per_second
            progress.update(_info(iteration))
            if iteration in notes:
                progress.note(f"iteration {iteration:,}: saved 'm.npz'")


def test_terminal_with_only_a_time_limit_keeps_the_bar_after_notes():
    clock, stream = FakeClock(), io.StringIO()
    progress = TrainingProgress(start_iteration=0, target=None, deadline=clock() + 60, time_limit=60,
                                seq_length=25, batch_size=1, stream=stream, clock=clock, tty=True,
                                width=100)
    _run(progress, clock, 0, 5000, notes={2000})
    out = stream.getvalue()
    before, after = out.split("iteration 2,000: saved 'm.npz'\n")
    assert after.startswith("\r[")  # drawn again at once, below the note
    assert "iteration 2,000" in after.split("\r")[1]  # with the figures of the note's moment
    assert out.endswith("\n") and "iteration 5,000" in out.rsplit("\r", 1)[1]
    assert "55 left" in out.rsplit("\r", 1)[1]  # 60 s limit, 5 s used


def test_terminal_resumed_run_shows_one_count():
    clock, stream = FakeClock(), io.StringIO()
    progress = TrainingProgress(start_iteration=200_000, target=300_000, deadline=None,
                                time_limit=None, seq_length=25, batch_size=1, stream=stream,
                                clock=clock, tty=True, width=120)
    _run(progress, clock, 200_000, 205_000, per_second=1000)
    last = stream.getvalue().rsplit("\r", 1)[1]
    assert "205,000/300,000" in last and "68%" in last
    assert "1:35 left" in last  # 95,000 iterations at 1,000/s
    assert "25k chars/s" in last  # measured over the window: 1,000 it/s * 25 chars
    assert "5,000" not in last.replace("205,000", "")  # no separate "this run" count


def test_terminal_line_always_fits():
    for width in (20, 40, 80, 200):
        clock, stream = FakeClock(), io.StringIO()
        progress = TrainingProgress(start_iteration=0, target=300_000, deadline=None,
                                    time_limit=None, seq_length=25, batch_size=4, stream=stream,
                                    clock=clock, tty=True, width=width)
        _run(progress, clock, 0, 3000)
        drawn = [piece.rstrip(" ") for piece in re.split(r"[\r\n]", stream.getvalue()) if piece.strip()]
        assert drawn and all(len(piece) <= width - 1 for piece in drawn), width


PLAIN = re.compile(r"^iteration [\d,]+(/[\d,]+)?  loss \d+\.\d{4} nats/char  [\d.]+[kMG]? chars/s"
                   r"(  \d+:\d\d:\d\d left)?$")


def test_plain_lines_first_every_ten_seconds_and_last():
    clock, stream = FakeClock(), io.StringIO()
    progress = TrainingProgress(start_iteration=0, target=30_000, deadline=None, time_limit=None,
                                seq_length=25, batch_size=1, stream=stream, clock=clock, tty=False)
    _run(progress, clock, 0, 25_500, notes={10_000})
    lines = stream.getvalue().splitlines()
    progress_lines = [line for line in lines if "saved" not in line]
    assert all(PLAIN.match(line) for line in progress_lines), progress_lines
    iterations = [int(line.split()[1].split("/")[0].replace(",", "")) for line in progress_lines]
    # The first, one every 10 s (at 1,000 iterations/s; clock rounding aside), the end.
    assert iterations[0] == 1 and iterations[-1] == 25_500 and len(iterations) == 4
    assert 10_001 <= iterations[1] <= 10_003 and 20_001 <= iterations[2] <= 20_006
    assert progress_lines[0].endswith("chars/s")  # no estimate during the warm-up
    assert progress_lines[-1].endswith("0:00:04 left")
    assert "iteration 10,000: saved 'm.npz'" in lines


def test_plain_final_line_not_repeated():
    clock, stream = FakeClock(), io.StringIO()
    progress = TrainingProgress(start_iteration=0, target=1, deadline=None, time_limit=None,
                                seq_length=25, batch_size=1, stream=stream, clock=clock, tty=False)
    _run(progress, clock, 0, 1)
    assert len(stream.getvalue().splitlines()) == 1
