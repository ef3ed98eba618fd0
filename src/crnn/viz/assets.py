"""The stylesheet and script of the ``crnn viz`` page (inlined by page.py).

Plain CSS and JavaScript (ES2017, no libraries, no network).  The script
reads the JSON in ``#crnn-data`` (see page.page_data), builds the two shaded
texts, the tooltip with the model's top guesses, and the unit chooser.
"""

PAGE_CSS = r"""
:root { --fg: #1b1b1b; --muted: #666; --line: #d0d0d0; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 12px 18px 40px; color: var(--fg);
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
h1 { font-size: 1.4em; margin: 0.3em 0; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.3em; border-bottom: 1px solid var(--line); }
h3 { font-size: 1em; margin: 1.2em 0 0.2em; }
code { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; }
.head-grid { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; }
.head-grid > div:last-child { flex: 1 1 440px; }
table.facts { border-collapse: collapse; font-size: 0.92em; }
table.facts th { text-align: left; font-weight: normal; color: var(--muted); padding: 1px 12px 1px 0; }
table.facts td { padding: 1px 0; }
.score { margin: 0.2em 0 0.5em; }
.note { color: #8a5300; background: #fff6e0; border: 1px solid #f0d9a0; padding: 4px 8px;
        display: inline-block; margin: 0.2em 0; }
figure.curve { margin: 0.3em 0; }
figure.curve figcaption { font-size: 0.85em; color: var(--muted); }
#curve text { font-size: 11px; fill: #444; }
#curve .axis { stroke: #888; }
#curve .grid { stroke: #eee; }
#curve .line { fill: none; stroke: #2166ac; stroke-width: 1.6; }
#curve circle { fill: #2166ac; }
.text { font: 14px/1.6 ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace;
        white-space: pre-wrap; word-break: break-all; border: 1px solid var(--line);
        padding: 8px 10px; max-height: 26em; overflow: auto; background: #fff; }
.text span { cursor: default; }
.text span.cur { outline: 1.5px solid #000; }
.text .mark { color: #9a9a9a; }
.legend { display: flex; align-items: center; gap: 6px; font-size: 0.85em; color: var(--muted);
          margin: 4px 0; }
.legend .bar { width: 220px; height: 12px; border: 1px solid var(--line); }
.controls { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; margin: 6px 0; }
.controls input[type=number] { width: 5.5em; }
.caption { margin: 4px 0; font-size: 0.92em; }
table.units { border-collapse: collapse; font-size: 0.92em; }
table.units th, table.units td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
table.units tbody tr { cursor: pointer; }
table.units tbody tr:hover, table.units tr.sel { background: #eef4fb; }
.tip { position: absolute; z-index: 10; background: #fff; border: 1px solid #999;
       box-shadow: 0 2px 8px rgba(0,0,0,0.18); padding: 6px 9px; font-size: 13px;
       min-width: 210px; max-width: 340px; pointer-events: none; }
.tip .ctx { color: var(--muted); font-family: ui-monospace, Menlo, Consolas, monospace;
            white-space: pre; overflow: hidden; }
.tip table { border-collapse: collapse; width: 100%; margin-top: 4px; }
.tip td { padding: 1px 4px; }
.tip td.ch { font-family: ui-monospace, Menlo, Consolas, monospace; width: 2.5em; }
.tip td.pc { text-align: right; width: 4em; }
.tip .bar { height: 9px; background: #92c5de; }
.tip tr.hit td { font-weight: bold; }
.tip tr.hit .bar { background: #d6604d; }
.tip .val { margin-top: 4px; }
"""

PAGE_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("crnn-data").textContent);
  var chars = Array.from(data.text);
  var N = chars.length, K = data.k, vocab = data.vocab || [];
  var tip = document.getElementById("tip");
  var SURPRISE_TOP = 8;  // nats at which the red is full
  var state = { block: 0, unit: 0, stretch: false, values: null };
  var decoded = {};

  function label(c) {
    if (c === "\n") return "\u21b5";
    if (c === "\t") return "\u2192";
    if (c === " ") return "\u2423";
    var code = c.codePointAt(0);
    if (code < 32 || code === 127) return "\u00b7";
    return c;
  }

  function mix(t, to) {
    t = Math.max(0, Math.min(1, t));
    return "rgb(" + to.map(function (v) { return Math.round(255 + (v - 255) * t); }).join(",") + ")";
  }
  function surpriseColour(s) { return mix(s / SURPRISE_TOP, [215, 48, 31]); }
  // the ends of the scale stay light enough for black text to be read
  function divergingColour(v) {
    return v < 0 ? mix(-v, [67, 147, 195]) : mix(v, [214, 96, 77]);
  }

  function buildText(box) {
    var frag = document.createDocumentFragment();
    for (var j = 0; j < N; j++) {
      var c = chars[j], span = document.createElement("span");
      span.setAttribute("data-j", j);
      if (c === "\n") {
        var m = document.createElement("i");
        m.className = "mark"; m.textContent = "\u21b5";
        span.appendChild(m); span.appendChild(document.createTextNode("\n"));
      } else if (c === "\t") {
        span.textContent = "\t";
      } else if (label(c) === "\u00b7") {
        span.className = "mark"; span.textContent = "\u00b7";
      } else {
        span.textContent = c;
      }
      frag.appendChild(span);
    }
    box.appendChild(frag);
    return box.children;
  }

  var surpriseBox = document.getElementById("surprise-text");
  var unitBox = document.getElementById("unit-text");
  var surpriseSpans = buildText(surpriseBox);
  var unitSpans = buildText(unitBox);
  for (var j = 0; j < N; j++) surpriseSpans[j].style.backgroundColor = surpriseColour(data.surprise[j]);

  function legend(el, colours, labels) {
    el.innerHTML = "";
    var left = document.createElement("span"); left.textContent = labels[0];
    var bar = document.createElement("span"); bar.className = "bar";
    bar.style.background = "linear-gradient(to right," + colours.join(",") + ")";
    var right = document.createElement("span"); right.textContent = labels[1];
    el.appendChild(left); el.appendChild(bar); el.appendChild(right);
  }
  legend(document.getElementById("surprise-legend"),
         [surpriseColour(0), surpriseColour(SURPRISE_TOP / 2), surpriseColour(SURPRISE_TOP)],
         ["expected (0 nats)", "surprising (" + SURPRISE_TOP + "+ nats)"]);

  // ------------------------------------------------------------ units
  function blockValues(b) {
    if (!decoded[b]) {
      var raw = atob(data.states[b].data), bytes = new Int8Array(raw.length);
      for (var i = 0; i < raw.length; i++) bytes[i] = (raw.charCodeAt(i) << 24) >> 24;
      decoded[b] = bytes;
    }
    return decoded[b];
  }
  function unitValues(b, u) {
    var block = data.states[b], q = blockValues(b), out = new Float64Array(N);
    var scale = block.scale[u] / 127;
    for (var j = 0; j < N; j++) out[j] = q[u * N + j] * scale;
    return out;
  }
  function blockName(b) {
    var s = data.states[b];
    return "layer " + s.layer + " " + s.kind;
  }
  var select = document.getElementById("block"), unitInput = document.getElementById("unit");
  data.states.forEach(function (s, b) {
    var o = document.createElement("option");
    o.value = b; o.textContent = blockName(b) + " (" + s.size + " units)";
    select.appendChild(o);
  });
  function findBlock(layer, kind) {
    for (var b = 0; b < data.states.length; b++)
      if (data.states[b].layer === layer && data.states[b].kind === kind) return b;
    return 0;
  }
  function rankedEntry(b, u) {
    var s = data.states[b];
    for (var i = 0; i < data.units.length; i++) {
      var e = data.units[i];
      if (e.layer === s.layer && e.kind === s.kind && e.index === u) return [i, e];
    }
    return null;
  }
  function showUnit(b, u) {
    if (!data.states.length) return;
    var size = data.states[b].size;
    u = Math.max(0, Math.min(size - 1, u | 0));
    state.block = b; state.unit = u;
    select.value = b; unitInput.max = size - 1; unitInput.value = u;
    var v = unitValues(b, u), peak = data.states[b].peak[u] || 1;
    var range = state.stretch ? peak : (data.states[b].kind === "h" ? 1 : peak);
    for (var j = 0; j < N; j++) unitSpans[j].style.backgroundColor = divergingColour(v[j] / range);
    state.values = v;
    var r = range.toPrecision(3);
    legend(document.getElementById("unit-legend"),
           [divergingColour(-1), divergingColour(0), divergingColour(1)], ["-" + r, "+" + r]);
    var name = blockName(b) + "[" + u + "]", hit = rankedEntry(b, u);
    var rows = document.querySelectorAll("#units tbody tr");
    for (var i = 0; i < rows.length; i++) rows[i].classList.toggle("sel", hit !== null && i === hit[0]);
    document.getElementById("unit-caption").textContent = hit
      ? name + " follows \u201c" + hit[1].property + "\u201d (correlation " +
        (hit[1].corr >= 0 ? "+" : "") + hit[1].corr.toFixed(3) + ", #" + (hit[0] + 1) + " of the list below)"
      : name + ": largest |value| " + peak.toPrecision(3);
  }
  select.addEventListener("change", function () { showUnit(+select.value, state.unit); });
  unitInput.addEventListener("input", function () { showUnit(state.block, +unitInput.value); });
  document.getElementById("prev").addEventListener("click", function () { showUnit(state.block, state.unit - 1); });
  document.getElementById("next").addEventListener("click", function () { showUnit(state.block, state.unit + 1); });
  document.getElementById("stretch").addEventListener("change", function (e) {
    state.stretch = e.target.checked; showUnit(state.block, state.unit);
  });
  var table = document.getElementById("units");
  if (table) table.addEventListener("click", function (e) {
    var row = e.target.closest("tr[data-layer]");
    if (!row) return;
    showUnit(findBlock(+row.getAttribute("data-layer"), row.getAttribute("data-kind")),
             +row.getAttribute("data-index"));
    unitBox.scrollIntoView({ block: "nearest" });
  });
  if (data.units.length) showUnit(findBlock(data.units[0].layer, data.units[0].kind), data.units[0].index);
  else showUnit(0, 0);

  // ------------------------------------------------------------ tooltip
  var current = null;
  function cell(row, text, cls) {
    var td = document.createElement("td"); td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td); return td;
  }
  function percent(p) { return p < 0.001 ? "<0.1%" : (100 * p).toFixed(1) + "%"; }
  function fill(j, withUnit) {
    tip.innerHTML = "";
    var ctx = document.createElement("div"); ctx.className = "ctx";
    ctx.textContent = "after \u2026" + chars.slice(Math.max(0, j - 24), j).map(label).join("");
    var head = document.createElement("div");
    var p = Math.exp(-data.surprise[j]);
    head.textContent = "next was \u2018" + label(chars[j]) + "\u2019: p " + percent(p) + ", surprise " +
      data.surprise[j].toFixed(2) + " nats";
    var sub = document.createElement("div"); sub.textContent = "the model's top " + K + " guesses:";
    var t = document.createElement("table");
    for (var r = 0; r < K; r++) {
      var id = data.topk_ids[j * K + r], q = data.topk_probs[j * K + r];
      var row = document.createElement("tr"), c = vocab[id];
      if (c === chars[j]) row.className = "hit";
      cell(row, label(c), "ch");
      var bar = document.createElement("div"); bar.className = "bar";
      bar.style.width = Math.max(1, Math.round(q * 100)) + "%";
      cell(row, "").appendChild(bar);
      cell(row, percent(q), "pc");
      t.appendChild(row);
    }
    tip.appendChild(ctx); tip.appendChild(head); tip.appendChild(sub); tip.appendChild(t);
    if (withUnit && state.values) {
      var val = document.createElement("div"); val.className = "val";
      val.textContent = blockName(state.block) + "[" + state.unit + "] = " + state.values[j].toFixed(3);
      tip.appendChild(val);
    }
  }
  function show(e) {
    var span = e.target.closest && e.target.closest("span[data-j]");
    if (!span) return;
    var j = +span.getAttribute("data-j"), box = span.parentNode;
    if (current) current.classList.remove("cur");
    current = span; span.classList.add("cur");
    fill(j, box === unitBox);
    tip.hidden = false;
    var rect = span.getBoundingClientRect(), w = tip.offsetWidth;
    var x = Math.min(rect.left, document.documentElement.clientWidth - w - 4);
    tip.style.left = Math.max(0, x) + window.scrollX + "px";
    tip.style.top = rect.bottom + window.scrollY + 4 + "px";
  }
  function hide() {
    tip.hidden = true;
    if (current) current.classList.remove("cur");
    current = null;
  }
  [surpriseBox, unitBox].forEach(function (box) {
    box.addEventListener("pointerover", show);
    box.addEventListener("mouseover", show);
    box.addEventListener("click", show);
    box.addEventListener("mouseleave", hide);
    box.addEventListener("scroll", hide);
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") hide(); });
  // on a touch screen, a tap outside the texts closes the tooltip
  document.addEventListener("click", function (e) {
    if (!surpriseBox.contains(e.target) && !unitBox.contains(e.target)) hide();
  });
})();
"""
