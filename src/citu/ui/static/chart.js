// Draws the subset of Vega-Lite v5 that citu's chart rules emit, as SVG, with no library.
// Anything outside the subset is refused (the caller shows "no chart"): a spec is data from
// the server and is never trusted to be well formed.

import {
  WIDTH,
  HEIGHT,
  MARGIN,
  PALETTE,
  el,
  frame,
  withTooltip,
  label,
  isMissing,
  toNumber,
  formatNumber,
  yAxis,
  xAxisLinear,
  xAxisBands,
  legend,
  distinct,
  temporalLabel,
  temporalKey,
} from "./chart-svg.js";

const MARKS = new Set(["line", "bar", "arc", "point", "text"]);
const CHANNELS = new Set(["x", "y", "theta", "color", "xOffset", "text"]);
// Keys a channel may carry: what it draws, plus presentation hints that are ignored. Keys that
// change the data (aggregate, bin, timeUnit, scale…) are outside the subset.
const CHANNEL_KEYS = new Set(["field", "type", "sort", "title", "axis", "legend"]);
const TYPES = new Set(["temporal", "nominal", "quantitative", "ordinal"]);

export class UnsupportedChart extends Error {}

// Checks the spec against the subset; returns {mark, rows, enc} or throws UnsupportedChart.
export function readSpec(spec) {
  if (!spec || typeof spec !== "object") throw new UnsupportedChart("not an object");
  const markType = typeof spec.mark === "string" ? spec.mark : spec.mark && spec.mark.type;
  if (!MARKS.has(markType)) throw new UnsupportedChart(`mark ${markType}`);
  const values = spec.data && spec.data.values;
  if (!Array.isArray(values) || values.some((v) => !v || typeof v !== "object")) {
    throw new UnsupportedChart("data.values");
  }
  const enc = spec.encoding;
  if (!enc || typeof enc !== "object") throw new UnsupportedChart("encoding");
  for (const [channel, def] of Object.entries(enc)) {
    if (!CHANNELS.has(channel)) throw new UnsupportedChart(`channel ${channel}`);
    if (!def || typeof def.field !== "string") throw new UnsupportedChart(`${channel}.field`);
    for (const key of Object.keys(def)) {
      if (!CHANNEL_KEYS.has(key)) throw new UnsupportedChart(`${channel}.${key}`);
    }
    if (def.type !== undefined && !TYPES.has(def.type)) throw new UnsupportedChart(def.type);
  }
  const rows = applyTransforms(values, spec.transform);
  const known = new Set(rows.flatMap((row) => Object.keys(row)));
  for (const def of Object.values(enc)) {
    if (rows.length && !known.has(def.field)) throw new UnsupportedChart(`field ${def.field}`);
  }
  return { mark: markType, rows, enc };
}

// The one transform the rules emit: fold measure columns into long form (series, value).
function applyTransforms(values, transforms) {
  if (transforms === undefined) return values;
  if (!Array.isArray(transforms) || transforms.length !== 1) throw new UnsupportedChart("transform");
  const { fold, as, ...rest } = transforms[0] || {};
  const names = Array.isArray(as) ? as : ["key", "value"];
  if (Object.keys(rest).length || !Array.isArray(fold) || !fold.length || names.length !== 2) {
    throw new UnsupportedChart("transform");
  }
  const [keyName, valueName] = names;
  const columns = new Set(values.flatMap((row) => Object.keys(row)));
  if (values.length && fold.some((name) => !columns.has(name))) throw new UnsupportedChart("fold field");
  const folded = [];
  for (const row of values) {
    const base = { ...row };
    fold.forEach((name) => delete base[name]);
    for (const name of fold) folded.push({ ...base, [keyName]: name, [valueName]: row[name] });
  }
  return folded;
}

// Renders `spec` into `container` (emptied first); returns true when a chart was drawn.
export function renderChart(container, spec, { noChartText = "no chart" } = {}) {
  container.replaceChildren();
  let svg;
  try {
    const { mark, rows, enc } = readSpec(spec);
    const draw = { line: drawLine, bar: drawBar, arc: drawArc, point: drawPoint, text: drawKpi }[mark];
    svg = draw(rows, enc);
  } catch (error) {
    // A spec outside the subset is expected; anything else is a bug of this renderer, logged
    // (the browser tests fail on it) but never allowed to take the answer's table down with it.
    if (!(error instanceof UnsupportedChart)) console.error("chart.js:", error);
    svg = null;
  }
  if (!svg) {
    const note = document.createElement("div");
    note.className = "no-chart";
    note.textContent = noChartText;
    container.append(note);
    return false;
  }
  const meta = (spec.usermeta && spec.usermeta.citu) || {};
  svg.setAttribute("data-kind", meta.kind || "");
  if (spec.title) {
    const heading = document.createElement("div");
    heading.className = "chart-title";
    heading.textContent = String(spec.title);
    container.append(heading);
  }
  container.append(svg);
  return true;
}

// ---- marks -----------------------------------------------------------------------------------

function drawLine(rows, enc) {
  if (!enc.x || !enc.y) throw new UnsupportedChart("line needs x and y");
  const points = rows
    .map((row) => ({ x: row[enc.x.field], y: toNumber(row[enc.y.field]), s: enc.color ? row[enc.color.field] : "" }))
    .filter((p) => !isMissing(p.x) && p.y !== null);
  if (!points.length) return null;
  if (enc.x.type === "temporal") {
    points.sort((a, b) => (temporalKey(a.x) ?? 0) - (temporalKey(b.x) ?? 0));
  } else if (enc.x.type === "quantitative") {
    points.sort((a, b) => toNumber(a.x) - toNumber(b.x));
  }
  const svg = frame();
  const yScale = yAxis(svg, points.map((p) => p.y), { includeZero: false });
  if (enc.x.type === "temporal") points.forEach((p) => (p.x = temporalLabel(p.x)));
  const categories = distinct(points.map((p) => p.x));
  const inset = 24; // keeps the first and last labels inside the frame
  const width = WIDTH - MARGIN.left - MARGIN.right - 2 * inset;
  const step = width / Math.max(categories.length - 1, 1);
  const index = new Map(categories.map((c, i) => [c, i]));
  const center = (c) => MARGIN.left + inset + (categories.length === 1 ? width / 2 : index.get(c) * step);
  xAxisBands(svg, categories, center);
  const series = distinct(points.map((p) => p.s));
  series.forEach((name, i) => {
    const own = points.filter((p) => String(p.s) === name);
    const path = own.map((p, k) => `${k ? "L" : "M"}${center(String(p.x))},${yScale(p.y)}`).join(" ");
    const color = PALETTE[i % PALETTE.length];
    svg.append(el("path", { d: path, fill: "none", stroke: color, "stroke-width": 2, class: "mark line" }));
    for (const p of own) {
      const dot = el("circle", { cx: center(String(p.x)), cy: yScale(p.y), r: 3, fill: color, class: "mark" });
      svg.append(withTooltip(dot, `${p.x}: ${formatNumber(p.y)}`));
    }
  });
  legend(svg, series.filter((s) => s !== ""));
  return svg;
}

function sortCategories(points, sort) {
  if (sort === "-y") return [...points].sort((a, b) => b.y - a.y);
  if (sort === "y") return [...points].sort((a, b) => a.y - b.y);
  if (sort === "x" || sort === "-x") {
    const sorted = [...points].sort((a, b) => String(a.x).localeCompare(String(b.x)));
    return sort === "-x" ? sorted.reverse() : sorted;
  }
  return points;
}

function drawBar(rows, enc) {
  if (!enc.x || !enc.y) throw new UnsupportedChart("bar needs x and y");
  const offset = enc.xOffset ? enc.xOffset.field : null;
  let points = rows
    .map((row) => ({ x: row[enc.x.field], y: toNumber(row[enc.y.field]), s: offset ? row[offset] : "" }))
    .filter((p) => !isMissing(p.x) && p.y !== null);
  if (!points.length) return null;
  if (!offset) points = sortCategories(points, enc.x.sort);
  const svg = frame();
  const yScale = yAxis(svg, points.map((p) => p.y), { includeZero: true });
  const categories = distinct(points.map((p) => p.x));
  const series = distinct(points.map((p) => p.s));
  const band = (WIDTH - MARGIN.left - MARGIN.right) / categories.length;
  const index = new Map(categories.map((c, i) => [c, i]));
  const center = (c) => MARGIN.left + (index.get(c) + 0.5) * band;
  xAxisBands(svg, categories, center);
  const inner = (band * 0.8) / series.length;
  const zero = yScale(0);
  for (const p of points) {
    const slot = series.indexOf(String(p.s));
    const x = MARGIN.left + index.get(String(p.x)) * band + band * 0.1 + slot * inner;
    const y = yScale(p.y);
    const bar = el("rect", {
      x, y: Math.min(y, zero), width: Math.max(inner - 1, 1), height: Math.max(Math.abs(zero - y), 1),
      fill: PALETTE[(offset ? slot : 0) % PALETTE.length], class: `mark bar${p.y < 0 ? " negative" : ""}`,
    });
    svg.append(withTooltip(bar, `${p.x}${p.s !== "" ? ` · ${p.s}` : ""}: ${formatNumber(p.y)}`));
  }
  svg.append(el("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: zero, y2: zero, class: "zero" }));
  legend(svg, offset ? series : []);
  return svg;
}

function drawArc(rows, enc) {
  if (!enc.theta || !enc.color) throw new UnsupportedChart("arc needs theta and color");
  const slices = rows
    .map((row) => ({ name: row[enc.color.field], value: toNumber(row[enc.theta.field]) }))
    .filter((s) => !isMissing(s.name) && s.value !== null && s.value > 0);
  const total = slices.reduce((sum, s) => sum + s.value, 0);
  if (!slices.length || total <= 0) return null;
  const svg = frame();
  const [cx, cy, r] = [HEIGHT / 2 + 20, HEIGHT / 2, HEIGHT / 2 - 24];
  let angle = -Math.PI / 2;
  slices.forEach((slice, i) => {
    const sweep = (slice.value / total) * Math.PI * 2;
    const color = PALETTE[i % PALETTE.length];
    const share = `${slice.name}: ${formatNumber(slice.value)} (${((slice.value / total) * 100).toFixed(1)}%)`;
    let shape;
    if (slices.length === 1) {
      shape = el("circle", { cx, cy, r, fill: color, class: "mark arc" });
    } else {
      const [x0, y0] = [cx + r * Math.cos(angle), cy + r * Math.sin(angle)];
      const [x1, y1] = [cx + r * Math.cos(angle + sweep), cy + r * Math.sin(angle + sweep)];
      const large = sweep > Math.PI ? 1 : 0;
      shape = el("path", { d: `M${cx},${cy} L${x0},${y0} A${r},${r} 0 ${large} 1 ${x1},${y1} Z`, fill: color, class: "mark arc" });
    }
    svg.append(withTooltip(shape, share));
    if (i < 12) {
      const ly = 24 + i * 20;
      svg.append(el("rect", { x: WIDTH / 2 + 40, y: ly - 10, width: 12, height: 12, fill: color }));
      svg.append(label(share, { x: WIDTH / 2 + 58, y: ly, class: "legend-text" }, 36));
    }
    angle += sweep;
  });
  return svg;
}

function drawPoint(rows, enc) {
  if (!enc.x || !enc.y) throw new UnsupportedChart("point needs x and y");
  const points = rows
    .map((row) => ({ x: toNumber(row[enc.x.field]), y: toNumber(row[enc.y.field]), name: enc.color ? row[enc.color.field] : "" }))
    .filter((p) => p.x !== null && p.y !== null);
  if (!points.length) return null;
  const svg = frame();
  const yScale = yAxis(svg, points.map((p) => p.y), { includeZero: false });
  const xScale = xAxisLinear(svg, points.map((p) => p.x));
  for (const p of points) {
    const dot = el("circle", { cx: xScale(p.x), cy: yScale(p.y), r: 4, fill: PALETTE[0], "fill-opacity": 0.7, class: "mark point" });
    const name = isMissing(p.name) ? "" : `${p.name}: `;
    svg.append(withTooltip(dot, `${name}${enc.x.field}=${formatNumber(p.x)}, ${enc.y.field}=${formatNumber(p.y)}`));
  }
  svg.append(el("text", { x: WIDTH - MARGIN.right, y: HEIGHT - MARGIN.bottom + 34, "text-anchor": "end", class: "axis-title" }, enc.x.field));
  svg.append(el("text", { x: MARGIN.left, y: MARGIN.top - 4, class: "axis-title" }, enc.y.field));
  return svg;
}

function drawKpi(rows, enc) {
  if (!enc.text) throw new UnsupportedChart("text needs a text channel");
  const value = rows.length ? rows[0][enc.text.field] : null;
  if (isMissing(value)) return null;
  const number = toNumber(value);
  const shown = number === null ? String(value) : new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 }).format(number);
  const svg = frame();
  svg.setAttribute("viewBox", `0 0 ${WIDTH} 160`);
  svg.append(label(shown, { x: WIDTH / 2, y: 90, "text-anchor": "middle", class: "mark kpi-value" }, 30));
  svg.append(label(enc.text.field, { x: WIDTH / 2, y: 130, "text-anchor": "middle", class: "kpi-label" }, 60));
  return svg;
}
