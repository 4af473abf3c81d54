// Colour scales and number formatting shared by every view.

// Blue (negative) - near white (zero) - red (positive), after ColorBrewer's RdBu.
const DIVERGING = [
  [33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247],
  [253, 219, 199], [239, 138, 98], [178, 24, 43],
];
// White to dark purple, for magnitudes (saliency).
const SEQUENTIAL = [[255, 255, 255], [218, 218, 235], [158, 154, 200], [106, 81, 163], [63, 0, 125]];

function ramp(stops, t) {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i], b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

// v in [-scale, scale] -> rgb; NaN shows green so that it cannot pass unseen.
export function diverging(v, scale) {
  if (!Number.isFinite(v)) return [0, 200, 0];
  return ramp(DIVERGING, scale > 0 ? 0.5 + 0.5 * v / scale : 0.5);
}

export function sequential(v, scale) {
  if (!Number.isFinite(v)) return [0, 200, 0];
  return ramp(SEQUENTIAL, scale > 0 ? Math.abs(v) / scale : 0);
}

export function grey(v, low, high) {
  const t = high > low ? (v - low) / (high - low) : 0;
  const g = Math.round(255 * Math.min(1, Math.max(0, t)));
  return [g, g, g];
}

export function css(rgb) {
  return `rgb(${rgb[0] | 0},${rgb[1] | 0},${rgb[2] | 0})`;
}

// Text colour readable on a background.
export function inkOn(rgb) {
  return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 ? "#1d232b" : "#ffffff";
}

export function maxAbs(data, start = 0, end = data.length) {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(data[i]);
    if (a > m && Number.isFinite(a)) m = a;
  }
  return m;
}

export function range(data) {
  let low = Infinity, high = -Infinity;
  for (const v of data) {
    if (v < low) low = v;
    if (v > high) high = v;
  }
  return [low, high];
}

// A number as a person reads it: `digits` significant digits, exponent when tiny or huge.
export function fmt(x, digits = 4) {
  if (x === null || x === undefined) return "–";
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e5) return x.toExponential(Math.max(0, digits - 1));
  return String(Number(x.toPrecision(digits)));
}

// Short form for a cell of a small table of numbers.
export function short(x) {
  if (x === null || x === undefined) return "·";
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 1) return x.toFixed(1);
  if (a >= 0.01) return x.toFixed(2).replace(/^(-?)0\./, "$1.");
  return x.toExponential(0);
}

// The network's float type: 9 significant digits read a float32 back exactly, 17 a float64.
let float32 = true;
export function useDtype(dtype) {
  float32 = dtype !== "float64";
}

// The full value, as the network holds it.
export function exact(x) {
  if (x === null || x === undefined) return "–";
  if (!Number.isFinite(x)) return String(x);
  return float32 ? String(Number(Math.fround(x).toPrecision(9))) : String(x);
}
