// The SVG pieces of chart.js: frame, scales, axes, labels, legend, number and text helpers.

export const SVG_NS = "http://www.w3.org/2000/svg";
export const WIDTH = 640;
export const HEIGHT = 320;
export const MARGIN = { top: 16, right: 16, bottom: 64, left: 64 };
export const PALETTE = [
  "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
  "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
];
export const LABEL_WIDTH = 14; // label length budget, in half-width characters

export function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function frame() {
  return el("svg", {
    class: "citu-chart",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    width: "100%",
    role: "img",
    preserveAspectRatio: "xMidYMid meet",
  });
}

export function withTooltip(node, text) {
  node.append(el("title", {}, text));
  return node;
}

// Half-width units: a CJK character counts two, so Chinese labels are cut at the same width.
export function textWidth(text) {
  let width = 0;
  for (const ch of text) width += ch.charCodeAt(0) > 0x2e80 ? 2 : 1;
  return width;
}

export function truncate(text, budget = LABEL_WIDTH) {
  if (textWidth(text) <= budget) return text;
  let out = "";
  for (const ch of text) {
    if (textWidth(out + ch) > budget - 1) break;
    out += ch;
  }
  return `${out}…`;
}

// A text label, cut when long; the full text stays in a title (the browser's tooltip).
export function label(text, attrs, budget) {
  const full = String(text);
  const shown = truncate(full, budget);
  const node = el("text", attrs, shown);
  if (shown !== full) node.append(el("title", {}, full));
  return node;
}

export function isMissing(value) {
  return value === null || value === undefined || value === "";
}

export function toNumber(value) {
  if (isMissing(value)) return null;
  const number = typeof value === "number" ? value : Number(value);
  return Number.isFinite(number) ? number : null;
}

export function formatNumber(value) {
  const abs = Math.abs(value);
  if (abs >= 1e4) return new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 }).format(value);
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: abs < 1 ? 4 : 2 }).format(value);
}

// "Nice" ticks over [min, max], always including zero for bars.
export function ticks(min, max, count = 5) {
  if (min === max) {
    const pad = Math.abs(min) || 1;
    [min, max] = [min - pad, max + pad];
  }
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const start = Math.floor(min / step) * step;
  const end = Math.ceil(max / step) * step;
  const out = [];
  for (let v = start; v <= end + step / 2; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function linear(domain, range) {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  return (v) => r0 + ((v - d0) / (d1 - d0 || 1)) * (r1 - r0);
}

export function yAxis(svg, values, { includeZero }) {
  const lo = Math.min(...values, includeZero ? 0 : Infinity);
  const hi = Math.max(...values, includeZero ? 0 : -Infinity);
  const marks = ticks(lo, hi);
  const scale = linear([marks[0], marks[marks.length - 1]], [HEIGHT - MARGIN.bottom, MARGIN.top]);
  const axis = el("g", { class: "axis axis-y" });
  for (const tick of marks) {
    const y = scale(tick);
    axis.append(el("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y, y2: y, class: "grid" }));
    axis.append(el("text", { x: MARGIN.left - 6, y: y + 4, "text-anchor": "end" }, formatNumber(tick)));
  }
  svg.append(axis);
  return scale;
}

export function xAxisLinear(svg, values) {
  const marks = ticks(Math.min(...values), Math.max(...values));
  const scale = linear([marks[0], marks[marks.length - 1]], [MARGIN.left, WIDTH - MARGIN.right]);
  const axis = el("g", { class: "axis axis-x" });
  const y = HEIGHT - MARGIN.bottom;
  axis.append(el("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y, y2: y, class: "domain" }));
  for (const tick of marks) {
    axis.append(el("text", { x: scale(tick), y: y + 16, "text-anchor": "middle" }, formatNumber(tick)));
  }
  svg.append(axis);
  return scale;
}

// Category labels under bands; rotated and thinned out when there are many.
export function xAxisBands(svg, categories, center) {
  const axis = el("g", { class: "axis axis-x" });
  const y = HEIGHT - MARGIN.bottom;
  axis.append(el("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y, y2: y, class: "domain" }));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const rotate = categories.length > 8;
  const every = Math.max(1, Math.ceil(categories.length / (rotate ? 24 : 8)));
  const budget = rotate ? 12 : Math.max(4, Math.floor(plotWidth / categories.length / 7));
  categories.forEach((category, i) => {
    if (i % every) return;
    const x = center(category);
    const attrs = rotate
      ? { x, y: y + 12, "text-anchor": "end", transform: `rotate(-40 ${x} ${y + 12})` }
      : { x, y: y + 16, "text-anchor": "middle" };
    axis.append(label(category, attrs, budget));
  });
  svg.append(axis);
}

export function legend(svg, names) {
  if (names.length < 2) return;
  const group = el("g", { class: "legend" });
  names.slice(0, 12).forEach((name, i) => {
    const x = MARGIN.left + (i % 4) * 140;
    const y = HEIGHT - 14 - Math.floor(i / 4) * 14;
    group.append(el("rect", { x, y: y - 9, width: 10, height: 10, fill: PALETTE[i % PALETTE.length] }));
    group.append(label(name, { x: x + 14, y }, 16));
  });
  svg.append(group);
}

export function distinct(values) {
  return [...new Set(values.map((v) => String(v)))];
}

// A date-time at midnight reads as its date ("2024-03-01T00:00:00" → "2024-03-01").
export function temporalLabel(value) {
  return String(value).replace(/[T ]00:00(:00(\.0+)?)?(Z|[+-]00:?00)?$/, "");
}

export function temporalKey(value) {
  const time = Date.parse(String(value));
  return Number.isNaN(time) ? null : time;
}
