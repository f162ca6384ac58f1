// report.js: the report's viewer and sortable summary, inlined into report.html by regdemo.report.
// Plain script, no framework, no network: the runs' data is the JSON in #viewer-data (regdemo.viewer).
// A URL hash such as #a=l2&b=none&b:seed=2&smooth=0.8&log=0&epoch=300&sort=-val_data_loss sets the
// controls on load (and when it changes) by dispatching the same events a user's change does: a and b
// name runs, a:<control>=<value> sets one control, sort names a summary column (- for descending).
"use strict";
(function () {
  // An error anywhere on the page is written on <html data-js-errors>, where a test (or a reader) sees it.
  window.addEventListener("error", function (event) {
    const root = document.documentElement;
    const previous = root.getAttribute("data-js-errors");
    root.setAttribute("data-js-errors", (previous ? previous + "\n" : "") + event.message);
  });

  const $ = function (id) { return document.getElementById(id); };
  const SVG = "http://www.w3.org/2000/svg";
  const data = JSON.parse($("viewer-data").textContent);
  const runs = data.runs;
  const SIDES = ["a", "b"];
  const CURVES = [
    // [history key, colour, dashed, legend]: as each run's loss.png draws them
    ["data_loss", "#1f77b4", false, "train data loss"],
    ["val_data_loss", "#ff7f0e", false, "validation data loss"],
    ["loss", "#1f77b4", true, "train loss + penalty"],
    ["val_loss", "#ff7f0e", true, "validation loss + penalty"],
  ];
  const byPlace = new Map(runs.map(function (run, i) { return [run.at.join(","), i]; }));
  const byLabel = new Map(runs.map(function (run, i) { return [run.label, i]; }));
  const shown = { a: -1, b: -1 };
  let applying = false; // while the hash sets the controls, the hash is not rewritten

  // Numbers as the summary table shows them: 4 significant digits, integers whole, missing as a dash.
  function format(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
  }

  // ---------------------------------------------------------------- controls

  function buildControls(side) {
    const box = $("controls-" + side);
    data.fields.forEach(function (field, f) {
      const label = document.createElement("label");
      label.append(field.label + " ");
      const select = document.createElement("select");
      select.id = "pick-" + side + "-" + f;
      select.dataset.field = field.name;
      field.values.forEach(function (value, i) { select.add(new Option(value, String(i))); });
      select.addEventListener("change", function () { show(side); });
      label.append(select);
      box.append(label);
    });
  }

  function selects(side) {
    return data.fields.map(function (field, f) { return $("pick-" + side + "-" + f); });
  }

  // Set a side's controls to run i's values, through their change events.
  function pick(side, i) {
    const all = selects(side);
    all.forEach(function (select, f) { select.value = String(runs[i].at[f]); });
    if (all.length === 0) { show(side); return; }
    all.forEach(function (select) { select.dispatchEvent(new Event("change")); });
  }

  function picked(side) {
    const key = selects(side).map(function (select) { return select.value; }).join(",");
    return byPlace.has(key) ? byPlace.get(key) : -1;
  }

  // ---------------------------------------------------------------- one side

  function imageSource(name) {
    if (data.images !== "ids") return name;
    const img = $(name);
    return img ? img.getAttribute("src") : "";
  }

  function setImage(img, source) {
    if (source) {
      if (img.getAttribute("src") !== source) img.setAttribute("src", source);
      img.hidden = false;
    } else {
      img.removeAttribute("src");
      img.hidden = true;
    }
  }

  function show(side) {
    const i = picked(side);
    shown[side] = i;
    const run = i < 0 ? null : runs[i];
    $("missing-" + side).hidden = run !== null;
    const name = $("name-" + side);
    name.textContent = run ? run.label + " " : "";
    if (run) {
      const status = document.createElement("span");
      status.className = run.status;
      status.textContent = run.status;
      name.append(status);
    }
    const error = $("error-" + side);
    error.textContent = run ? run.error : "";
    error.hidden = !(run && run.error);
    for (const picture of ["boundary", "weights"]) {
      const source = run && run.images[picture] ? imageSource(run.images[picture]) : "";
      setImage($(picture + "-" + side), source);
    }
    showFilm(side, run);
    drawCharts();
    fillNumbers();
    if (!applying) writeHash();
  }

  // ---------------------------------------------------------------- the training film

  function showFilm(side, run) {
    const film = run ? run.film : null;
    const box = $("film-" + side);
    box.hidden = !film;
    if (!film) return;
    const slider = $("epoch-" + side);
    // Keep the epoch shown when the run changes; a first film starts at its last frame.
    const before = Number($("epoch-value-" + side).dataset.epoch);
    slider.max = String(film.epochs.length - 1);
    slider.value = String(isFinite(before) ? nearest(film.epochs, before) : film.epochs.length - 1);
    const img = $("frame-" + side);
    img.onload = function () {
      $("frame-box-" + side).style.aspectRatio = img.naturalWidth + " / " + img.naturalHeight / film.epochs.length;
    };
    setImage(img, film.src);
    showFrame(side);
  }

  function nearest(epochs, epoch) {
    let best = 0;
    epochs.forEach(function (e, k) { if (Math.abs(e - epoch) < Math.abs(epochs[best] - epoch)) best = k; });
    return best;
  }

  function showFrame(side) {
    const run = shown[side] < 0 ? null : runs[shown[side]];
    if (!run || !run.film) return;
    const k = Number($("epoch-" + side).value);
    $("frame-" + side).style.top = -100 * k + "%";
    const value = $("epoch-value-" + side);
    value.textContent = String(run.film.epochs[k]);
    value.dataset.epoch = String(run.film.epochs[k]);
  }

  // ---------------------------------------------------------------- the loss chart

  // TensorBoard's smoothing: an exponential moving average, debiased; gaps (null) stay gaps.
  function smooth(values, weight) {
    let last = 0;
    let count = 0;
    return values.map(function (y) {
      if (y === null || !isFinite(y)) return y;
      last = last * weight + (1 - weight) * y;
      count += 1;
      return weight === 1 ? last : last / (1 - Math.pow(weight, count));
    });
  }

  function element(name, attributes, parent) {
    const node = document.createElementNS(SVG, name);
    for (const key in attributes) node.setAttribute(key, attributes[key]);
    if (parent) parent.append(node);
    return node;
  }

  // The y range of both shown runs' raw curves, so that A and B are drawn on the same axes.
  function yRange(log) {
    let low = Infinity;
    let high = -Infinity;
    for (const side of SIDES) {
      if (shown[side] < 0) continue;
      const history = runs[shown[side]].history;
      for (const curve of CURVES) {
        for (const y of history[curve[0]] || []) {
          if (y === null || !isFinite(y) || (log && y <= 0)) continue;
          low = Math.min(low, y);
          high = Math.max(high, y);
        }
      }
    }
    if (!isFinite(low)) return null;
    if (!log) return [0, high > 0 ? high * 1.05 : 1];
    const lo = Math.log10(low);
    const hi = Math.log10(high);
    const pad = Math.max(0.05 * (hi - lo), 0.05);
    return [lo - pad, hi + pad];
  }

  function drawCharts() {
    const log = $("log-y").checked;
    const range = yRange(log);
    const epochs = Math.max(1, ...SIDES.filter(function (s) { return shown[s] >= 0; }).map(function (s) {
      const e = runs[shown[s]].history.epoch || [];
      return e.length ? e[e.length - 1] : 1;
    }));
    for (const side of SIDES) drawChart(side, range, log, epochs);
  }

  function drawChart(side, range, log, lastEpoch) {
    const svg = $("chart-" + side);
    svg.replaceChildren();
    const run = shown[side] < 0 ? null : runs[shown[side]];
    if (!run || !run.history.epoch || !range) return;
    const left = 52, right = 410, top = 10, bottom = 226;
    const weight = Number($("smoothing").value);
    const x = function (e) { return left + (right - left) * (lastEpoch > 1 ? (e - 1) / (lastEpoch - 1) : 0.5); };
    const y = function (v) {
      const t = log ? (Math.log10(v) - range[0]) / (range[1] - range[0]) : (v - range[0]) / (range[1] - range[0]);
      return bottom - (bottom - top) * t;
    };
    element("rect", { x: left, y: top, width: right - left, height: bottom - top, class: "frame" }, svg);
    const ticks = [];
    if (log) {
      // decades, and 2 and 5 times them when the range spans less than three decades
      const steps = range[1] - range[0] < 3 ? [1, 2, 5] : [1];
      for (let p = Math.floor(range[0]); p <= Math.ceil(range[1]); p += 1) {
        for (const m of steps) {
          const v = m * Math.pow(10, p);
          if (Math.log10(v) >= range[0] && Math.log10(v) <= range[1]) ticks.push([v, format(v)]);
        }
      }
    } else for (let k = 0; k <= 4; k += 1) ticks.push([range[1] * k / 4, format(range[1] * k / 4)]);
    for (const [value, text] of ticks) {
      element("line", { x1: left, x2: right, y1: y(value), y2: y(value), class: "grid" }, svg);
      element("text", { x: left - 4, y: y(value) + 4, class: "tick y" }, svg).textContent = text;
    }
    for (const e of [1, lastEpoch]) {
      element("text", { x: x(e), y: bottom + 14, class: "tick x" }, svg).textContent = String(e);
    }
    element("text", { x: (left + right) / 2, y: bottom + 14, class: "axis" }, svg).textContent = "epoch";
    const epochs = run.history.epoch;
    let legend = 0;
    for (const [key, colour, dashed, text] of CURVES) {
      const values = run.history[key];
      if (!values) continue;
      for (const [kind, ys] of [["raw", values], ["smooth", smooth(values, weight)]]) {
        let d = "";
        let pen = "M";
        let points = 0;
        ys.forEach(function (v, k) {
          if (v === null || !isFinite(v) || (log && v <= 0)) { pen = "M"; return; }
          d += pen + x(epochs[k]).toFixed(1) + " " + y(v).toFixed(1);
          pen = "L";
          points += 1;
        });
        element("path", {
          d: d, class: kind + (dashed ? " dashed" : ""), stroke: colour, "data-curve": key, "data-points": points,
        }, svg);
      }
      const lx = left + (legend % 2) * (right - left) / 2;
      const ly = bottom + 44 + 13 * Math.floor(legend / 2);
      element("line", { x1: lx, x2: lx + 18, y1: ly - 4, y2: ly - 4, stroke: colour, class: dashed ? "key dashed" : "key" }, svg);
      element("text", { x: lx + 22, y: ly, class: "legend" }, svg).textContent = text;
      legend += 1;
    }
    if (run.film) {
      const at = Number($("epoch-value-" + side).dataset.epoch);
      if (isFinite(at)) element("line", { x1: x(at), x2: x(at), y1: top, y2: bottom, class: "now" }, svg);
    }
  }

  // ---------------------------------------------------------------- the numbers table

  function cell(row, value, title) {
    const td = row.insertCell();
    td.className = "num";
    td.textContent = format(value);
    if (value !== null && value !== undefined) td.dataset.value = String(value);
    if (title) td.title = title;
  }

  function fillNumbers() {
    const a = shown.a < 0 ? null : runs[shown.a];
    const b = shown.b < 0 ? null : runs[shown.b];
    $("numbers-a").textContent = a ? "A: " + a.label : "A: none";
    $("numbers-b").textContent = b ? "B: " + b.label : "B: none";
    const body = $("numbers").tBodies[0];
    body.replaceChildren();
    data.metrics.forEach(function (metric, m) {
      const row = body.insertRow();
      row.insertCell().textContent = metric;
      const va = a ? a.numbers[m] : null;
      const vb = b ? b.numbers[m] : null;
      cell(row, va);
      cell(row, vb);
      cell(row, va !== null && vb !== null ? vb - va : null);
    });
  }

  // ---------------------------------------------------------------- the summary table

  function sortKey(row, column) {
    const text = row.cells[column].textContent.trim();
    if (text === "") return null;
    const number = Number(text);
    return isNaN(number) ? text : number;
  }

  // Sort by a column: numbers numerically, text naturally, empty cells last either way.
  function sortBy(header) {
    const table = $("summary");
    const column = header.cellIndex;
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    for (const other of header.parentNode.cells) other.removeAttribute("aria-sort");
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const keys = new Map(rows.map(function (row) { return [row, sortKey(row, column)]; }));
    rows.sort(function (r, s) {
      const p = keys.get(r);
      const q = keys.get(s);
      if (p === null || q === null) return (p === null) - (q === null);
      const order = typeof p === "number" && typeof q === "number"
        ? p - q : String(p).localeCompare(String(q), undefined, { numeric: true });
      return ascending ? order : -order;
    });
    body.append(...rows);
  }

  function sortable() {
    for (const header of $("summary").tHead.rows[0].cells) {
      header.classList.add("sortable");
      header.addEventListener("click", function () { sortBy(header); });
    }
  }

  // ---------------------------------------------------------------- the hash

  function writeHash() {
    const params = new URLSearchParams();
    for (const side of SIDES) if (shown[side] >= 0) params.set(side, runs[shown[side]].label);
    params.set("smooth", $("smoothing").value);
    if (!$("log-y").checked) params.set("log", "0");
    history.replaceState(null, "", "#" + params.toString());
  }

  function applyHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    applying = true;
    try {
      for (const side of SIDES) {
        if (params.has(side) && byLabel.has(params.get(side))) pick(side, byLabel.get(params.get(side)));
      }
      // One control at a time, e.g. a:lambda=0.01 (the control's label and the value as it reads)
      for (const [key, value] of params) {
        const parts = key.split(":");
        if (parts.length !== 2 || !SIDES.includes(parts[0])) continue;
        const f = data.fields.findIndex(function (field) { return field.label === parts[1] || field.name === parts[1]; });
        const v = f < 0 ? -1 : data.fields[f].values.indexOf(value);
        if (v < 0) continue;
        const select = $("pick-" + parts[0] + "-" + f);
        select.value = String(v);
        select.dispatchEvent(new Event("change"));
      }
      if (params.has("smooth")) {
        $("smoothing").value = params.get("smooth");
        $("smoothing").dispatchEvent(new Event("input"));
      }
      if (params.has("log")) {
        $("log-y").checked = params.get("log") !== "0";
        $("log-y").dispatchEvent(new Event("change"));
      }
      if (params.has("epoch")) {
        for (const side of SIDES) {
          const run = shown[side] < 0 ? null : runs[shown[side]];
          if (!run || !run.film) continue;
          $("epoch-" + side).value = String(nearest(run.film.epochs, Number(params.get("epoch"))));
          $("epoch-" + side).dispatchEvent(new Event("input"));
        }
      }
      if (params.has("sort")) {
        const wanted = params.get("sort");
        const name = wanted.replace(/^-/, "");
        for (const header of $("summary").tHead.rows[0].cells) {
          if (header.textContent !== name) continue;
          const clicks = wanted.startsWith("-") ? 2 : 1;
          for (let k = 0; k < clicks; k += 1) header.dispatchEvent(new MouseEvent("click"));
        }
      }
    } finally {
      applying = false;
    }
    return Array.from(params.keys()).some(function (key) { return SIDES.includes(key.split(":")[0]); });
  }

  // ---------------------------------------------------------------- start

  for (const side of SIDES) {
    buildControls(side);
    $("epoch-" + side).addEventListener("input", function () { showFrame(side); drawCharts(); });
  }
  $("smoothing").addEventListener("input", function () {
    $("smoothing-value").textContent = $("smoothing").value;
    drawCharts();
  });
  // The address follows once the slider is let go (browsers throttle a flood of history updates).
  $("smoothing").addEventListener("change", function () { if (!applying) writeHash(); });
  $("log-y").addEventListener("change", function () { drawCharts(); if (!applying) writeHash(); });
  sortable();
  applying = true;
  pick("a", 0);
  pick("b", Math.min(1, runs.length - 1));
  applying = false;
  applyHash();
  window.addEventListener("hashchange", function () {
    if (applyHash()) $("viewer").scrollIntoView();
  });
})();
