"""The `crnn viz` page in a real browser (headless Chromium).

Two checks: a screenshot is not blank (the shaded text is drawn), and
pointing at a character shows the model's top guesses (a copy of the page
with a probe script that dispatches the pointer events a user makes and
writes what the tooltip shows into the DOM, read back with --dump-dom).

Without Chromium the tests skip, except under CI=true, where they fail:
CI installs it (scripts/install_chromium.sh).
"""

import html
import json
import os
import re
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest

import crnn
import crnn.viz

# (an emoji and an accent early on: the script must count characters as
# Python does, one per code point)
TEXT = ('She said "yes \U0001f600 (maybe) no" and left.\nHe asked [why] {not}; 42 times!\n'
        'def f(x):\n    return "\u00e9" * 2  # twice\n') * 12
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def chromium():
    path = next((shutil.which(n) for n in BROWSER_NAMES if shutil.which(n)), None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing under CI=true: .ci/run must run scripts/install_chromium.sh")
        pytest.skip("Chromium is not installed (bash scripts/install_chromium.sh installs it)")
    return path


def run_chromium(binary, profile, *args):
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", "--disable-extensions", "--disable-background-networking",
               "--virtual-time-budget=5000", f"--user-data-dir={profile}", *args]
    # Not under the sanitizer run's preloaded libasan (scripts/sanitize.sh):
    # that checks our kernels, not the browser.
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC")}
    done = subprocess.run(command, capture_output=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode("utf-8")


@pytest.fixture(scope="module")
def model_and_page(tmp_path_factory):
    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), hidden_size=24, seed=3)
    model.train(TEXT, iterations=60)  # half-trained: surprise varies
    model.val_history = [(100, 3.0), (200, 2.6), (300, 2.4)]
    folder = tmp_path_factory.mktemp("viz-browser")
    page = folder / "page.html"
    page.write_text(crnn.viz.make_page(model, TEXT, units=5, name="test.npz"), encoding="utf-8")
    return model, page


# ----------------------------------------------------------------------
# A small PNG reader (8-bit RGB/RGBA, not interlaced), to need no imaging package


def read_png(path):
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(raw):
        length, kind = struct.unpack(">I4s", raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    data = zlib.decompress(idat)
    stride = width * bpp
    rows, prior = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(data[start], bytearray(data[start + 1:start + 1 + stride]), prior, bpp)
        rows.append(bytes(row))
        prior = row
    return np.frombuffer(b"".join(rows), np.uint8).reshape(height, width, bpp)[:, :, :3]


def _unfilter(kind, row, prior, bpp):
    if kind == 1:  # Sub: running sums per channel, modulo 256
        r = np.frombuffer(bytes(row), np.uint8).reshape(-1, bpp).astype(np.int64)
        return bytearray((np.cumsum(r, axis=0) % 256).astype(np.uint8).tobytes())
    if kind == 2:  # Up
        return bytearray(((np.frombuffer(bytes(row), np.uint8).astype(np.int64)
                           + np.frombuffer(bytes(prior), np.uint8)) % 256).astype(np.uint8).tobytes())
    for i in range(len(row)):
        a = row[i - bpp] if i >= bpp else 0
        b = prior[i]
        c = prior[i - bpp] if i >= bpp else 0
        if kind == 3:
            row[i] = (row[i] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    return row


# ----------------------------------------------------------------------


def test_screenshot_is_not_blank(chromium, model_and_page, tmp_path):
    _, page = model_and_page
    shot = tmp_path / "shot.png"
    run_chromium(chromium, tmp_path / "profile", "--window-size=900,1000",
                 f"--screenshot={shot}", page.as_uri())
    pixels = read_png(shot).astype(np.int64)
    assert pixels.shape == (1000, 900, 3)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    not_white = np.mean((r < 235) | (g < 235) | (b < 235))
    shaded_red = np.count_nonzero((r > 150) & (r - b > 40) & (r - g > 40))  # surprise shading
    curve_blue = np.count_nonzero((b > 120) & (b - r > 60))  # the SVG curve's line and dots
    assert not_white > 0.04, not_white
    assert shaded_red > 500, shaded_red
    assert curve_blue > 50, curve_blue
    if os.environ.get("CRNN_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["CRNN_KEEP_SCREENSHOT"])


PROBE = """
<script>
(function () {
  var out = {}, tip = document.getElementById("tip");
  function rows() {
    return Array.from(tip.querySelectorAll("tr")).map(function (tr) {
      return { hit: tr.className === "hit",
               cells: Array.from(tr.children).map(function (td) { return td.textContent; }) };
    });
  }
  var span = document.querySelector('#surprise-text span[data-j="POS"]');
  span.dispatchEvent(new PointerEvent("pointerover", { bubbles: true }));
  out.hidden = tip.hidden;
  out.head = tip.children[1].textContent;
  out.rows = rows();
  out.marked = span.classList.contains("cur");
  var row = document.querySelectorAll("#units tbody tr")[1];
  row.dispatchEvent(new MouseEvent("click", { bubbles: true }));
  out.caption = document.getElementById("unit-caption").textContent;
  var uspan = document.querySelector('#unit-text span[data-j="POS"]');
  uspan.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
  out.unit_line = tip.querySelector(".val").textContent;
  out.unit_rows = rows().length;
  document.getElementById("unit-text").dispatchEvent(new MouseEvent("mouseleave"));
  out.hidden_after_leave = tip.hidden;
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def label(c):
    return {"\n": "\u21b5", "\t": "\u2192", " ": "\u2423"}.get(c, c)


def test_pointing_at_a_character_shows_the_top_guesses(chromium, model_and_page, tmp_path):
    model, page = model_and_page
    t = model.trace(TEXT)
    # a position whose character is among the model's guesses (so one row is
    # marked), not its first guess if there is one
    candidates = [j for j in range(40, len(TEXT)) if t.ids[j] in t.topk_ids[j]]
    j = next((j for j in candidates if t.ids[j] != t.topk_ids[j][0]), candidates[0])
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", PROBE.replace("POS", str(j)) + "</body>"), encoding="utf-8")
    dom = run_chromium(chromium, tmp_path / "profile", "--dump-dom", probe_page.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    out = json.loads(html.unescape(found.group(1)))

    assert out["hidden"] is False and out["marked"] is True
    assert out["head"].startswith(f"next was \u2018{label(TEXT[j])}\u2019: p ")
    assert len(out["rows"]) == 5
    chars = list(model.vocab)
    for row, id_, p in zip(out["rows"], t.topk_ids[j], t.topk_probs[j]):
        shown_char, _, shown_percent = row["cells"]
        assert shown_char == label(chars[id_])
        if p >= 0.001:
            assert float(shown_percent.rstrip("%")) == pytest.approx(100 * p, abs=0.06)  # stored to 4 decimals, shown to 1
        assert row["hit"] == (id_ == t.ids[j])
    assert sum(r["hit"] for r in out["rows"]) == 1

    units = crnn.viz.rank_units(t.layers, TEXT, 5)
    second = units[1]
    name = f"layer 0 h[{second.index}]"
    assert out["caption"].startswith(name) and second.prop in out["caption"]
    shown_name, value = out["unit_line"].split(" = ")
    assert shown_name == name
    assert float(value) == pytest.approx(t.layers[0]["h"][j, second.index], abs=0.01)
    assert out["unit_rows"] == 5
    assert out["hidden_after_leave"] is True
