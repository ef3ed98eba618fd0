"""crnn.viz: model.trace against NumPy, the unit ranking, the page's content
(read from its HTML and embedded JSON, no browser), and the `viz` and `plot`
commands with their errors.  The real-browser check is test_viz_browser.py.
"""

import builtins
import importlib
import html.parser
import json
import math
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import crnn
import crnn.viz
from crnn.reference import minchar as ref
from crnn import _kernels
from crnn.cli import cli
from crnn.viz import page as page_module
from crnn.viz.units import Unit, correlations, rank_units, text_properties

# crnn.viz.trace is the function; the module of the same name:
trace_module = importlib.import_module("crnn.viz.trace")

TEXT = 'She said "yes (maybe) no" and left.\nHe asked [why] {not}; 42 times!\n' * 6


def make_model(text=TEXT, hidden_size=8, dtype="float64", seed=0):
    """A model with random weights big enough to give varied predictions,
    small enough (recurrent gain < 1) that rounding differences do not grow."""
    model = crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=hidden_size, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    H = hidden_size
    scales = {"Wxh": 1.0, "Whh": 0.6 / math.sqrt(H), "Why": 1.5, "bh": 0.1, "by": 0.3}
    for name, view in model.params.items():
        view[...] = rng.standard_normal(view.shape) * scales[name]
    return model


# ----------------------------------------------------------------------
# trace


@pytest.mark.parametrize("hidden_size,text", [(1, "ab" * 5), (8, TEXT), (33, TEXT[:7]), (5, "x")])
def test_trace_matches_numpy_float64(hidden_size, text, isa):
    model = make_model(text, hidden_size)
    t = model.trace(text)
    ids = model.vocab.encode(text)
    probs, states = ref.trace_reference(model.params, np.zeros(hidden_size), ids)
    N = len(text)
    assert t.text == text and np.array_equal(t.ids, ids)
    assert t.prob.shape == (N,) and t.layers[0]["h"].shape == (N, hidden_size)
    assert ref.rel_err(t.layers[0]["h"], states) < 1e-12
    assert ref.rel_err(t.prob, probs[np.arange(N), ids]) < 1e-12
    k = min(5, model.vocab_size)
    expect_ids = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    assert np.array_equal(t.topk_ids, expect_ids)
    assert ref.rel_err(t.topk_probs, np.take_along_axis(probs, expect_ids, 1)) < 1e-12
    assert np.all(np.diff(t.topk_probs, axis=1) <= 0)  # most likely first


def test_trace_float32_and_chunks(monkeypatch):
    """Several kernel calls per text (chunks of 7) give the one-pass result;
    float32 agrees with the float64 reference to ~1e-4."""
    monkeypatch.setattr(trace_module, "TRACE_CHUNK", 7)
    model = make_model(TEXT, 12, dtype="float32")
    t = model.trace(TEXT)
    probs, states = ref.trace_reference(model.params, np.zeros(12), model.vocab.encode(TEXT))
    assert t.layers[0]["h"].dtype == np.float32
    assert ref.rel_err(t.layers[0]["h"], states) < 1e-4
    assert ref.rel_err(t.prob, probs[np.arange(len(TEXT)), t.ids]) < 1e-4


def test_trace_starts_from_the_models_start_state():
    model = make_model(TEXT, 6)
    model.train(TEXT, iterations=30)
    h0 = model.start_state[0]
    assert np.abs(h0).max() > 0
    t = model.trace(TEXT[:40])
    probs, states = ref.trace_reference(model.params, h0, model.vocab.encode(TEXT[:40]))
    assert ref.rel_err(t.layers[0]["h"], states) < 1e-12
    assert ref.rel_err(t.prob, probs[np.arange(40), t.ids]) < 1e-12


def test_trace_nats_per_char_is_what_evaluate_reports():
    model = make_model()
    t = crnn.viz.trace(model, TEXT)
    assert t.nats_per_char == pytest.approx(model.evaluate(TEXT)["nats_per_char"], rel=1e-12)
    assert t.bits_per_char == pytest.approx(t.nats_per_char / math.log(2))
    assert t["prob"] is t.prob  # dict-style access too


def test_trace_top_k_and_bad_input():
    model = make_model("abc" * 4, 4)
    assert model.trace("abcab", top_k=2).topk_ids.shape == (5, 2)
    assert model.trace("abcab", top_k=50).topk_ids.shape == (5, 3)  # at most V
    with pytest.raises(crnn.VocabError, match="'z'"):
        model.trace("abz")
    with pytest.raises(crnn.CorpusError):
        model.trace("")
    with pytest.raises(ValueError):
        model.trace("abc", top_k=0)


def test_trace_kernel_checks_its_arguments():
    model = make_model("abc", 4)
    H, V, T = 4, 3, 5
    work = np.empty(_kernels.trace_workspace_size(T, H, V))
    args = dict(states=np.empty((T, H)), probs=np.empty((T, V)), work=work, params=model._flat,
                inputs=np.zeros(T, np.int32), h0=np.zeros(H))
    _kernels.trace(**args)
    for name, bad, error in [
        ("inputs", np.full(T, 3, np.int32), ValueError),
        ("inputs", np.zeros(T, np.int64), TypeError),
        ("probs", np.empty((T, V + 1)), ValueError),
        ("states", np.empty((T - 1, H)), ValueError),
        ("work", np.empty(3), ValueError),
        ("h0", np.zeros(H, np.float32), TypeError),
    ]:
        with pytest.raises(error):
            _kernels.trace(**{**args, name: bad})


def test_assemble_splits_lstm_states_into_h_and_c():
    """The cell-agnostic half: (N, L, 2H) states of an LSTM become h and c."""
    N, L, H, V = 4, 2, 3, 5
    states = np.arange(N * L * 2 * H, dtype=float).reshape(N, L, 2 * H)
    probs = np.full((N, V), 1 / V)
    t = trace_module.assemble("abcd", np.array([0, 1, 2, 3]), probs, states, "lstm", H)
    assert len(t.layers) == L
    assert np.array_equal(t.layers[1]["h"], states[:, 1, :H])
    assert np.array_equal(t.layers[1]["c"], states[:, 1, H:])
    assert t.nats_per_char == pytest.approx(math.log(V))


# ----------------------------------------------------------------------
# units


def test_text_properties_on_a_small_text():
    props = text_properties('a"b"c\n(d(e))')
    assert props["inside double quotes"].tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert props["position in the line"].tolist() == [1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6]
    assert props["parenthesis depth"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 1, 0]
    assert props["just read a newline"].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_rank_units_finds_a_planted_quote_unit():
    rng = np.random.default_rng(5)
    N = len(TEXT)
    h = np.tanh(rng.standard_normal((N, 30)) * 0.8)
    inside = text_properties(TEXT)["inside double quotes"]
    h[:, 17] = np.where(inside > 0, 0.8, -0.7) + rng.standard_normal(N) * 0.05
    c = rng.standard_normal((N, 30))
    c[:, 3] = -3.0 * text_properties(TEXT)["position in the line"] + rng.standard_normal(N) * 25
    units = rank_units([{"h": h, "c": c}], TEXT, k=5)
    assert len(units) == 5
    assert (units[0].layer, units[0].kind, units[0].index) == (0, "h", 17)
    assert units[0].prop == "inside double quotes" and units[0].corr > 0.95
    second = units[1]
    assert (second.kind, second.index, second.prop) == ("c", 3, "position in the line")
    assert -0.95 < second.corr < -0.6  # the sign is kept
    assert abs(units[0].corr) >= abs(units[1].corr) >= abs(units[4].corr)


def test_correlations_leave_out_constant_properties_and_units():
    acts = np.stack([np.arange(6.0), np.ones(6)], axis=1)
    names, corr = correlations(acts, {"ramp": np.arange(6.0), "flat": np.zeros(6)})
    assert names == ["ramp"]
    assert corr[0, 0] == pytest.approx(1.0) and corr[0, 1] == 0.0


# ----------------------------------------------------------------------
# the page, read without a browser


class PageParser(html.parser.HTMLParser):
    """Collects the embedded JSON, the units table and anything external."""

    def __init__(self):
        super().__init__()
        self.data_text, self.in_data, self.external, self.tags = "", False, [], []
        self.unit_rows = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.in_data = tag == "script" and attrs.get("id") == "crnn-data"
        for name in ("src", "href"):
            if name in attrs:
                self.external.append((tag, attrs[name]))
        if tag == "link":
            self.external.append((tag, attrs))
        if tag == "tr" and "data-index" in attrs:
            self.unit_rows.append((int(attrs["data-layer"]), attrs["data-kind"], int(attrs["data-index"])))

    def handle_endtag(self, tag):
        self.in_data = False

    def handle_data(self, data):
        if self.in_data:
            self.data_text += data


def parse_page(page):
    parser = PageParser()
    parser.feed(page)
    return parser, json.loads(parser.data_text)


@pytest.fixture(scope="module")
def page_and_trace():
    model = make_model(TEXT, 10)
    model.val_history = [(100, 3.2), (200, 2.9), (300, 2.75)]
    page = crnn.viz.make_page(model, TEXT, max_chars=300, units=7, name="m.npz")
    return model, page, model.trace(TEXT[:300])


def test_page_holds_text_surprise_predictions_and_units(page_and_trace):
    model, page, t = page_and_trace
    parser, data = parse_page(page)
    assert data["text"] == TEXT[:300] and data["chars"] == 300 and data["total_chars"] == len(TEXT)
    assert data["vocab"] == list(model.vocab)
    surprise = -np.log(t.prob)
    assert np.allclose(data["surprise"], surprise, atol=5e-4)
    j, k = 123, data["k"]
    assert k == 5
    shown_ids = data["topk_ids"][j * k:(j + 1) * k]
    assert shown_ids == t.topk_ids[j].tolist()
    assert np.allclose(data["topk_probs"][j * k:(j + 1) * k], t.topk_probs[j], atol=5e-5)
    expected_units = rank_units(t.layers, TEXT[:300], 7)
    assert [u["index"] for u in data["units"]] == [u.index for u in expected_units]
    assert parser.unit_rows == [(u.layer, u.kind, u.index) for u in expected_units]
    assert data["nats_per_char"] == pytest.approx(model.evaluate(TEXT[:300])["nats_per_char"])
    assert data["facts"]["hidden size"] == 10 and data["facts"]["cell"] == "rnn"


def test_page_states_decode_to_the_trace(page_and_trace):
    _, page, t = page_and_trace
    _, data = parse_page(page)
    (block,) = data["states"]
    assert (block["layer"], block["kind"], block["size"]) == (0, "h", 10)
    values = page_module.decode_state_block(block, data["chars"])
    assert np.abs(values - t.layers[0]["h"]).max() <= 0.5 / 127 + 1e-12


def test_page_is_self_contained(page_and_trace):
    _, page, _ = page_and_trace
    parser, _ = parse_page(page)
    assert parser.external == []  # no src=, href=, <link>
    assert "@import" not in page and "url(" not in page
    # the only URL is the SVG namespace name (an identifier, never fetched)
    assert page.count("http") == page.count('xmlns="http://www.w3.org/2000/svg"') == 1
    assert "cut-note" in page and "Showing the first 300 of" in page
    assert "<svg" in page and "<polyline" in page and "no-curve" not in page


def test_page_without_history_or_cut_and_with_hostile_text():
    text = 'x</script><!-- "q" \u2028 <b>' * 3
    model = make_model(text, 4)
    page = crnn.viz.make_page(model, text)
    parser, data = parse_page(page)
    assert data["text"] == text  # survived the <script> element intact
    assert page.count("</script>") == 2  # the data's and the code's, nothing from the text
    assert "no-curve" in page and "cut-note" not in page
    assert parser.tags.count("script") == 2


def test_page_of_a_stacked_lstm_trace():
    """The page side is cell-agnostic: a 2-layer LSTM trace (as the network
    kernel's per-step states will give) yields h and c views of both layers,
    c stored against its own range."""
    rng = np.random.default_rng(2)
    text = TEXT[:120]
    vocab = crnn.Vocab.from_text(TEXT)
    N, L, H, V = len(text), 2, 6, len(vocab)
    states = rng.standard_normal((N, L, 2 * H)) * 3
    states[..., :H] = np.tanh(states[..., :H])
    probs = rng.dirichlet(np.ones(V), size=N)
    t = trace_module.assemble(text, vocab.encode(text), probs, states, "lstm", H)
    units = rank_units(t.layers, text, 5)
    page = page_module.build_page(t, list(vocab), {"cell": "lstm", "layers": L}, units)
    _, data = parse_page(page)
    assert [(b["layer"], b["kind"]) for b in data["states"]] == [(0, "h"), (0, "c"), (1, "h"), (1, "c")]
    c1 = page_module.decode_state_block(data["states"][3], N)
    assert np.abs(c1 - states[:, 1, H:]).max() <= np.abs(states[:, 1, H:]).max() / 254 + 1e-12
    assert {u["kind"] for u in data["units"]} <= {"h", "c"} and len(data["units"]) == 5


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet='ab "\'()[]{}\n\t<>/!#_é\u2028\U0001f600', min_size=1, max_size=60))
def test_any_text_survives_the_page(text):
    """Whatever the characters (markup, quotes, line separators, emoji), the
    page's data holds the text as it was, one entry per character."""
    model = make_model(text, 3)
    page = crnn.viz.make_page(model, text, units=4)
    parser, data = parse_page(page)
    assert data["text"] == text and len(data["surprise"]) == len(text)
    assert len(data["topk_ids"]) == len(text) * data["k"]
    assert parser.tags.count("script") == 2
    assert all(len(v) == len(text) for v in text_properties(text).values())


# ----------------------------------------------------------------------
# crnn viz


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def run(runner, *args):
    result = runner.invoke(cli, [str(a) for a in args], prog_name="crnn")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def expect_error(result, *fragments):
    assert result.exit_code != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def files(tmp_path):
    model = make_model(TEXT, 6)
    model.save(tmp_path / "m.npz")
    (tmp_path / "t.txt").write_text(TEXT, encoding="utf-8")
    return tmp_path


def test_viz_writes_the_page(runner, files):
    result = run(runner, "viz", "m.npz", "t.txt", "-o", "page.html", "--max-chars", 100, "--units", 3)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "Wrote 'page.html'" in result.stderr and "the first 100 of" in result.stderr
    _, data = parse_page((files / "page.html").read_text(encoding="utf-8"))
    assert data["text"] == TEXT[:100] and len(data["units"]) == 3
    assert data["facts"]["model"] == "m.npz"


def test_viz_reads_standard_input(runner, files):
    result = runner.invoke(cli, ["viz", "m.npz", "-", "-o", "p.html"], input="yes no\n", prog_name="crnn")
    assert result.exit_code == 0, result.stderr
    _, data = parse_page((files / "p.html").read_text(encoding="utf-8"))
    assert data["text"] == "yes no\n" and data["total_chars"] == 7


def test_viz_unknown_characters(runner, files):
    (files / "odd.txt").write_text("yes é and € no\n", encoding="utf-8")
    expect_error(run(runner, "viz", "m.npz", "odd.txt", "-o", "p.html"),
                 "'odd.txt' has 2 character(s)", "'é'", "'€'", "--skip-unknown")
    result = run(runner, "viz", "m.npz", "odd.txt", "-o", "p.html", "--skip-unknown")
    assert result.exit_code == 0, result.stderr
    assert "dropped 2 character(s)" in result.stderr
    _, data = parse_page((files / "p.html").read_text(encoding="utf-8"))
    assert data["text"] == "yes  and  no\n"
    (files / "alien.txt").write_text("ééé", encoding="utf-8")
    expect_error(run(runner, "viz", "m.npz", "alien.txt", "-o", "p.html", "--skip-unknown"),
                 "none of the characters")


def test_viz_bad_inputs(runner, files):
    (files / "empty.txt").write_text("")
    expect_error(run(runner, "viz", "m.npz", "empty.txt", "-o", "p.html"), "'empty.txt' is empty")
    expect_error(run(runner, "viz", "t.txt", "t.txt", "-o", "p.html"), "t.txt")  # not a model
    expect_error(run(runner, "viz", "nope.npz", "t.txt", "-o", "p.html"), "does not exist")
    expect_error(run(runner, "viz", "m.npz", "missing.txt", "-o", "p.html"), "missing.txt")
    expect_error(run(runner, "viz", "m.npz", "t.txt", "-o", "no/such/dir/p.html"),
                 "folder for -o", "does not exist")
    (files / "out").mkdir()
    expect_error(run(runner, "viz", "m.npz", "t.txt", "-o", "out"), "is a folder")
    expect_error(run(runner, "viz", "m.npz", "t.txt", "-o", "p.html", "--max-chars", 0), "--max-chars")
    assert not (files / "p.html").exists()


# ----------------------------------------------------------------------
# crnn plot

LOG = ("iteration,loss,smooth_loss,val_loss,chars_per_sec\n"
       + "".join(f"{i},{3 - i / 500:.4f},{3.2 - i / 600:.4f},{'2.9' if i % 50 == 0 else ''},100000\n"
                 for i in range(1, 201)))


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(LOG)
    return path


def test_read_log_keeps_the_last_run(tmp_path):
    from crnn.viz.curves import read_log

    path = tmp_path / "two.csv"
    path.write_text(LOG + LOG.split("\n", 1)[1][:200].rsplit("\n", 1)[0] + "\n")
    log = read_log(path)
    assert log.runs == 2 and log.iteration[0] == 1 and len(log.iteration) < 200
    path.write_text(LOG)
    log = read_log(path)
    assert log.runs == 1 and len(log.iteration) == 200
    assert log.val_iteration.tolist() == [50, 100, 150, 200] and log.val_loss.tolist() == [2.9] * 4


@pytest.mark.parametrize("name,magic", [("curve.png", b"\x89PNG"), ("curve.svg", b"<?xml")])
def test_plot_with_matplotlib(runner, log_file, name, magic):
    pytest.importorskip("matplotlib")
    result = run(runner, "plot", log_file, "-o", name)
    assert result.exit_code == 0, result.stderr
    assert (log_file.parent / name).read_bytes().startswith(magic)
    assert "200 iterations, 4 validation point(s)" in result.stderr


def test_plot_without_matplotlib(runner, log_file, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    for module in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    line = expect_error(run(runner, "plot", log_file, "-o", "curve.png"), "pip install 'crnn[plot]'")
    assert "matplotlib" in line
    assert not (log_file.parent / "curve.png").exists()


def test_plot_bad_inputs(runner, log_file):
    (log_file.parent / "text.txt").write_text("just words\n")
    expect_error(run(runner, "plot", "text.txt", "-o", "c.png"), "not a crnn training log")
    (log_file.parent / "header.csv").write_text(LOG.split("\n")[0] + "\n")
    expect_error(run(runner, "plot", "header.csv", "-o", "c.png"), "no rows yet")
    (log_file.parent / "bad.csv").write_text(LOG.split("\n")[0] + "\n1,x,2,,3\n")
    expect_error(run(runner, "plot", "bad.csv", "-o", "c.png"), "line 2")
    expect_error(run(runner, "plot", "missing.csv", "-o", "c.png"), "does not exist")
    expect_error(run(runner, "plot", log_file, "-o", "c.jpg2"), ".png, .svg, .pdf")
    expect_error(run(runner, "plot", log_file, "-o", "no/dir/c.png"), "does not exist")


def test_viz_and_plot_are_listed_in_help(runner):
    result = run(runner, "--help")
    assert "viz" in result.stdout and "plot" in result.stdout


@pytest.mark.parametrize("cell, layers", [("lstm", 2), ("gru", 1), ("rnn", 2)])
def test_page_of_every_cell_from_a_real_model(cell, layers):
    """The page of a trained model of each cell type: its characters,
    surprise, predictions, the states of every layer (h, and c for the
    LSTM) and its unit list, against the model's own trace."""
    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), cell=cell, num_layers=layers, hidden_size=6,
                         seq_length=10, optimizer="adam", seed=1)
    model.train(TEXT, iterations=40)
    page = crnn.viz.make_page(model, TEXT, max_chars=200, units=5, name="m.npz")
    _, data = parse_page(page)
    t = model.trace(TEXT[:200])
    assert data["text"] == TEXT[:200] and data["facts"]["cell"] == cell
    assert np.allclose(data["surprise"], -np.log(t.prob), atol=5e-4)
    k = data["k"]
    assert data["topk_ids"][50 * k:51 * k] == t.topk_ids[50].tolist()
    kinds = ("h", "c") if cell == "lstm" else ("h",)
    assert [(b["layer"], b["kind"]) for b in data["states"]] == \
        [(layer, kind) for layer in range(layers) for kind in kinds]
    for block in data["states"]:
        values = page_module.decode_state_block(block, data["chars"])
        want = t.layers[block["layer"]][block["kind"]]
        assert np.abs(values - want).max() <= max(1.0, np.abs(want).max()) * 0.5 / 127 + 1e-6
    assert len(data["units"]) == 5
