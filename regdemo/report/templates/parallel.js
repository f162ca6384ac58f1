// parallel.js: report.html's parallel-coordinates panel, inlined after report.js by regdemo.report.page.
// Plain script, no framework, no network. Its axes are the viewer data's "parallel" entry
// (regdemo.report.parallel): one per varying field, then one per chosen result column (the runs' numbers).
// Drag along an axis to brush it: the runs whose value lies in the brushed range stay (with several brushes,
// those in all of them); a click on an axis clears its brush. The lines and the summary table show only the
// runs kept. A click on a line sets the hash to a=<run>, which opens that run in the viewer (report.js).
// The hash may also brush: #brush=lambda:0.001:0.1&brush=kind:l2:l2 (an axis's label or name, then the
// range's two ends as the axis shows them).
"use strict";
(function () {
  const $ = function (id) { return document.getElementById(id); };
  const svg = $("parallel");
  if (!svg) return;
  const SVG = "http://www.w3.org/2000/svg";
  const data = JSON.parse($("viewer-data").textContent);
  const panel = data.parallel;
  const runs = data.runs;
  const LEFT = 80, RIGHT = 880, TOP = 52, BOTTOM = 340;
  // viridis, sampled: low values dark, high values bright
  const COLOURS = ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"];
  const MISSING = "#b0b0b0";
  const brushes = new Map(); // axis index -> [top y, bottom y] in the chart's coordinates

  function format(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(3)));
  }

  function element(name, attributes, parent) {
    const node = document.createElementNS(SVG, name);
    for (const key in attributes) node.setAttribute(key, attributes[key]);
    if (parent) parent.append(node);
    return node;
  }

  // ---------------------------------------------------------------- axes: a value's height

  function resultAxis(name) {
    const m = data.metrics.indexOf(name);
    return { name: name, label: name, scale: "linear", values: runs.map(function (run) { return run.numbers[m]; }) };
  }

  const axes = panel.axes.concat(panel.results.map(resultAxis));
  axes.forEach(function (axis, k) {
    axis.x = LEFT + (RIGHT - LEFT) * (axes.length > 1 ? k / (axes.length - 1) : 0.5);
    axis.position = positioning(axis);
  });

  function present(values) {
    return values.filter(function (v) { return v !== null && v !== undefined && isFinite(v); });
  }

  // A function from an axis's value (a number, or a category's index) to a height, and the axis's ticks.
  function positioning(axis) {
    const height = function (t) { return BOTTOM - (BOTTOM - TOP) * t; };
    if (axis.scale === "points") {
      const n = axis.categories.length;
      const at = function (i) { return height(n > 1 ? i / (n - 1) : 0.5); };
      axis.ticks = axis.categories.map(function (text, i) { return [at(i), text]; });
      return at;
    }
    const values = present(axis.values);
    if (axis.scale === "log") {
      const positive = values.filter(function (v) { return v > 0; }).map(Math.log10);
      const hi = Math.max.apply(null, positive);
      const lo = Math.min.apply(null, positive);
      const zero = values.some(function (v) { return v === 0; }) ? lo - Math.max(0.5, 0.15 * (hi - lo)) : lo;
      const t = function (v) { return v > 0 ? (Math.log10(v) - zero) / (hi - zero) : 0; };
      axis.ticks = zero < lo ? [[height(0), "0"]] : [];
      for (let p = Math.ceil(lo); p <= Math.floor(hi); p += 1) axis.ticks.push([height(t(Math.pow(10, p))), format(Math.pow(10, p))]);
      if (axis.ticks.length < 3) for (const v of [Math.pow(10, lo), Math.pow(10, hi)]) axis.ticks.push([height(t(v)), format(v)]);
      return function (v) { return height(t(v)); };
    }
    let lo = values.length ? Math.min.apply(null, values) : 0;
    let hi = values.length ? Math.max.apply(null, values) : 1;
    if (hi === lo) { const pad = Math.abs(lo) * 0.05 || 1; lo -= pad; hi += pad; }
    const t = function (v) { return (v - lo) / (hi - lo); };
    axis.ticks = [0, 1, 2, 3, 4].map(function (k) { const v = lo + (hi - lo) * k / 4; return [height(t(v)), format(v)]; });
    return function (v) { return height(t(v)); };
  }

  function heightOf(axis, i) {
    const v = axis.values[i];
    return v === null || v === undefined || !isFinite(v) ? null : axis.position(v);
  }

  // ---------------------------------------------------------------- colour

  function colourScale(name) {
    const m = data.metrics.indexOf(name);
    const values = present(runs.map(function (run) { return m < 0 ? null : run.numbers[m]; }));
    const lo = Math.min.apply(null, values);
    const hi = Math.max.apply(null, values);
    $("parallel-low").textContent = values.length ? format(lo) : "–";
    $("parallel-high").textContent = values.length ? format(hi) : "–";
    return function (i) {
      const v = m < 0 ? null : runs[i].numbers[m];
      if (v === null || !isFinite(v)) return MISSING;
      const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      const k = Math.min(COLOURS.length - 2, Math.floor(t * (COLOURS.length - 1)));
      return mix(COLOURS[k], COLOURS[k + 1], t * (COLOURS.length - 1) - k);
    };
  }

  function mix(a, b, t) {
    const channel = function (c, s) { return parseInt(c.slice(s, s + 2), 16); };
    let out = "#";
    for (const s of [1, 3, 5]) out += Math.round(channel(a, s) + (channel(b, s) - channel(a, s)) * t).toString(16).padStart(2, "0");
    return out;
  }

  // ---------------------------------------------------------------- drawing

  const lines = element("g", { class: "lines" }, svg);
  const axisLayer = element("g", { class: "axes" }, svg);

  function drawLines() {
    lines.replaceChildren();
    const colour = colourScale($("parallel-colour").value);
    runs.forEach(function (run, i) {
      let d = "";
      let pen = "M";
      for (const axis of axes) {
        const y = heightOf(axis, i);
        if (y === null) { pen = "M"; continue; }
        d += pen + axis.x.toFixed(1) + " " + y.toFixed(1);
        pen = "L";
      }
      const path = element("path", { d: d, class: "line", stroke: colour(i), "data-run": run.label }, lines);
      element("title", {}, path).textContent = run.label;
      path.addEventListener("click", function () { location.hash = "a=" + encodeURIComponent(run.label); });
    });
    filter();
  }

  function drawAxes() {
    axes.forEach(function (axis, k) {
      const group = element("g", { class: "axis", "data-axis": axis.name }, axisLayer);
      element("line", { x1: axis.x, x2: axis.x, y1: TOP, y2: BOTTOM, class: "spine" }, group);
      for (const [y, text] of axis.ticks) {
        element("line", { x1: axis.x - 4, x2: axis.x, y1: y, y2: y, class: "tick" }, group);
        element("text", { x: axis.x - 7, y: y + 3.5, class: "tick" }, group).textContent = text;
      }
      const label = element("text", { x: axis.x, y: k % 2 ? TOP - 12 : TOP - 28, class: "label" }, group);
      label.textContent = axis.label + (axis.scale === "log" ? " (log)" : "");
      element("rect", { x: axis.x - 6, y: TOP, width: 12, height: 0, class: "brush", hidden: "" }, group);
      const hit = element("rect", { x: axis.x - 14, y: TOP - 6, width: 28, height: BOTTOM - TOP + 12, class: "hit" }, group);
      hit.addEventListener("mousedown", function (event) { startDrag(k, event); });
    });
  }

  // ---------------------------------------------------------------- brushing

  function chartY(event) {
    const point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    return point.matrixTransform(svg.getScreenCTM().inverse()).y;
  }

  function setBrush(k, range) {
    const box = axisLayer.children[k].querySelector("rect.brush");
    if (range === null) {
      brushes.delete(k);
      box.setAttribute("hidden", "");
    } else {
      brushes.set(k, range);
      box.setAttribute("y", range[0]);
      box.setAttribute("height", range[1] - range[0]);
      box.removeAttribute("hidden");
    }
    filter();
  }

  // The brush follows the mouse; letting go where it was pressed (a click) clears it. Heights are taken in the
  // chart's coordinates at each event, so a page that moves meanwhile does not shift the brush.
  function startDrag(k, event) {
    event.preventDefault();
    const start = chartY(event);
    const pressed = event.clientY;
    const move = function (e) {
      const y = chartY(e);
      setBrush(k, [Math.min(start, y), Math.max(start, y)]);
    };
    const up = function (e) {
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
      if (Math.abs(e.clientY - pressed) < 3) setBrush(k, null);
    };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  }

  function kept(i) {
    for (const [k, range] of brushes) {
      const y = heightOf(axes[k], i);
      if (y === null || y < range[0] || y > range[1]) return false;
    }
    return true;
  }

  // Dim the lines of the runs not kept, and hide their rows in the summary table.
  function filter() {
    const keep = new Set();
    runs.forEach(function (run, i) { if (kept(i)) keep.add(run.label); });
    for (const path of lines.children) path.classList.toggle("dimmed", !keep.has(path.dataset.run));
    for (const row of $("summary").tBodies[0].rows) row.hidden = !keep.has(row.cells[0].textContent.trim());
    $("parallel-count").textContent = keep.size === runs.length
      ? runs.length + " runs" : keep.size + " of " + runs.length + " runs kept";
  }

  // #brush=<axis>:<lo>:<hi>: the same brush a drag from lo to hi would make (the ends as the axis shows them).
  function applyHash() {
    const wanted = new URLSearchParams(location.hash.slice(1)).getAll("brush");
    if (!wanted.length) return;
    for (const k of Array.from(brushes.keys())) setBrush(k, null);
    for (const text of wanted) {
      const parts = text.split(":");
      const k = axes.findIndex(function (axis) { return axis.label === parts[0] || axis.name === parts[0]; });
      if (k < 0 || parts.length !== 3) continue;
      const axis = axes[k];
      const at = function (shown) {
        if (axis.scale === "points") { const i = axis.categories.indexOf(shown); return i < 0 ? null : axis.position(i); }
        return shown === "" || !isFinite(Number(shown)) ? null : axis.position(Number(shown));
      };
      const ends = [at(parts[1]), at(parts[2])];
      if (ends[0] === null || ends[1] === null) continue;
      setBrush(k, [Math.min.apply(null, ends) - 1, Math.max.apply(null, ends) + 1]);
    }
  }

  // ---------------------------------------------------------------- start

  const choice = $("parallel-colour");
  for (const metric of data.metrics) choice.add(new Option(metric, metric));
  if (panel.colour) choice.value = panel.colour;
  choice.addEventListener("change", drawLines);
  $("parallel-reset").addEventListener("click", function () {
    for (const k of Array.from(brushes.keys())) setBrush(k, null);
  });
  drawAxes();
  drawLines();
  applyHash();
  window.addEventListener("hashchange", applyHash);
})();
