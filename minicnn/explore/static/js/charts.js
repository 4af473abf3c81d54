// Small SVG charts: the softmax bars, the live loss curve and the gradient-flow bars.

import { fmt } from "./colors.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function viewBox(chart) {
  const [, , width, height] = chart.getAttribute("viewBox").split(" ").map(Number);
  return { width, height };
}

// Softmax probabilities as bars; the predicted class filled, the loss's target outlined.
export function drawProbabilities(chart, probabilities, classes, predicted, target) {
  const { width, height } = viewBox(chart);
  const left = 28, bottom = 18, top = 14;
  const plotHeight = height - bottom - top;
  const step = (width - left - 4) / probabilities.length;
  chart.replaceChildren();
  for (const p of [0, 0.5, 1]) {
    const y = top + plotHeight * (1 - p);
    chart.append(svg("line", { x1: left, x2: width - 4, y1: y, y2: y, class: "grid" }));
    chart.append(svg("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, p.toFixed(1)));
  }
  probabilities.forEach((p, k) => {
    const barHeight = Math.max(0.5, plotHeight * p);
    const x = left + k * step + step * 0.15;
    const classes_ = ["bar"];
    if (k === predicted) classes_.push("predicted");
    if (k === target) classes_.push("target");
    const bar = svg("rect", { x, y: top + plotHeight - barHeight, width: step * 0.7, height: barHeight,
      class: classes_.join(" ") });
    bar.dataset.class = String(k);
    bar.append(svg("title", {}, `${classes[k]}: p = ${p}`));
    chart.append(bar);
    const label = String(classes[k]).split(" - ")[0];
    chart.append(svg("text", { x: x + step * 0.35, y: height - 5, "text-anchor": "middle" }, label));
    if (p >= 0.01) {
      chart.append(svg("text", { x: x + step * 0.35, y: top + plotHeight - barHeight - 3,
        "text-anchor": "middle", class: "bar-value" }, p >= 0.995 ? "1" : p.toFixed(2).replace(/^0/, "")));
    }
  });
  chart.append(svg("line", { x1: left, x2: width - 4, y1: top + plotHeight, y2: top + plotHeight, class: "axis" }));
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= value) return m * power;
  return 10 * power;
}

// The loss of every live step (faint), its running average (bold), and the accuracy on the
// evaluation images (dots, right axis).
export function drawLossCurve(chart, records) {
  const { width, height } = viewBox(chart);
  const left = 34, right = 30, top = 8, bottom = 20;
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  chart.replaceChildren();
  const steps = records.length ? records[records.length - 1].step : 0;
  const first = records.length ? records[0].step : 0;
  const lossMax = records.length ? niceMax(Math.max(...records.map((r) => r.loss), 1e-3)) : 1;
  const x = (step) => left + plotWidth * (steps > first ? (step - first) / (steps - first) : 0.5);
  const y = (loss) => top + plotHeight * (1 - Math.min(loss, lossMax) / lossMax);
  for (const f of [0, 0.5, 1]) {
    chart.append(svg("line", { x1: left, x2: left + plotWidth, y1: y(f * lossMax), y2: y(f * lossMax), class: "grid" }));
    chart.append(svg("text", { x: left - 4, y: y(f * lossMax) + 3, "text-anchor": "end" }, fmt(f * lossMax, 2)));
    const yAccuracy = top + plotHeight * (1 - f);
    chart.append(svg("text", { x: left + plotWidth + 3, y: yAccuracy + 3, class: "accuracy-axis" }, `${f * 100}%`));
  }
  chart.append(svg("line", { x1: left, x2: left + plotWidth, y1: top + plotHeight, y2: top + plotHeight, class: "axis" }));
  chart.append(svg("text", { x: left + 4, y: top + 9 }, "loss per step (line: running average)"));
  if (!records.length) {
    chart.append(svg("text", { x: left + plotWidth / 2, y: top + plotHeight / 2, "text-anchor": "middle" },
      "no steps yet: Run or Step"));
    return;
  }
  chart.append(svg("text", { x: left, y: height - 5 }, `step ${first}`));
  chart.append(svg("text", { x: left + plotWidth, y: height - 5, "text-anchor": "end" }, `step ${steps}`));
  // At most ~600 points drawn: enough for the eye, cheap for long runs.
  const stride = Math.max(1, Math.ceil(records.length / 600));
  const raw = [], smooth = [];
  let average = records[0].loss;
  records.forEach((record, i) => {
    average = 0.9 * average + 0.1 * record.loss;
    if (i % stride === 0 || i === records.length - 1) {
      raw.push(`${x(record.step).toFixed(1)},${y(record.loss).toFixed(1)}`);
      smooth.push(`${x(record.step).toFixed(1)},${y(average).toFixed(1)}`);
    }
  });
  const rawPath = svg("polyline", { points: raw.join(" "), class: "loss-raw" });
  const smoothPath = svg("polyline", { points: smooth.join(" "), class: "loss" });
  smoothPath.dataset.points = String(records.length);
  chart.append(rawPath, smoothPath);
  for (const record of records) {
    if (record.test_accuracy === null || record.test_accuracy === undefined) continue;
    const dot = svg("circle", { cx: x(record.step), cy: top + plotHeight * (1 - record.test_accuracy), r: 2.5, class: "accuracy" });
    dot.append(svg("title", {}, `step ${record.step}: ${(100 * record.test_accuracy).toFixed(1)}% of the evaluation images`));
    chart.append(dot);
  }
}

// Gradient flow, one row per layer (input at the top): max and mean |dLoss/d output| on a log
// scale, and the share of exact zeros (dead ReLUs, max-pooling's losers).
export function drawFlow(chart, flow) {
  const rowHeight = 15, top = 16, labelWidth = 122, zeroWidth = 40;
  const width = 360, height = top + rowHeight * flow.length + 18;
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.replaceChildren();
  const barWidth = width - labelWidth - zeroWidth - 40;
  const values = flow.flatMap((f) => [f.mean_abs, f.max_abs]).filter((v) => v > 0);
  if (!values.length) {
    chart.append(svg("text", { x: 4, y: 14 }, "every gradient is exactly zero"));
    return;
  }
  const low = Math.floor(Math.log10(Math.min(...values))), high = Math.ceil(Math.log10(Math.max(...values)));
  const span = Math.max(1, high - low);
  const bar = (v) => (v > 0 ? barWidth * (Math.log10(v) - low) / span : 0);
  chart.append(svg("text", { x: labelWidth, y: 10 }, `|grad| 1e${low}`));
  chart.append(svg("text", { x: labelWidth + barWidth, y: 10, "text-anchor": "end" }, `1e${high}`));
  chart.append(svg("text", { x: width - 4, y: 10, "text-anchor": "end" }, "zeros"));
  flow.forEach((f, i) => {
    const y = top + i * rowHeight;
    chart.append(svg("text", { x: labelWidth - 4, y: y + 10, "text-anchor": "end" }, `${f.name} ${f.kind}`));
    const max = svg("rect", { x: labelWidth, y: y + 2, width: bar(f.max_abs), height: rowHeight - 4, class: "max" });
    max.append(svg("title", {}, `${f.name}: max |grad| ${fmt(f.max_abs)}`));
    const mean = svg("rect", { x: labelWidth, y: y + 4, width: bar(f.mean_abs), height: rowHeight - 8, class: "mean" });
    mean.append(svg("title", {}, `${f.name}: mean |grad| ${fmt(f.mean_abs)}`));
    const zero = svg("rect", { x: width - zeroWidth - 4, y: y + 3, width: zeroWidth * f.zero_fraction, height: rowHeight - 6, class: "zero" });
    zero.append(svg("title", {}, `${f.name}: ${(100 * f.zero_fraction).toFixed(1)}% exactly zero`));
    chart.append(max, mean, zero);
    chart.append(svg("text", { x: width - zeroWidth - 8, y: y + 10, "text-anchor": "end" }, `${Math.round(100 * f.zero_fraction)}%`));
  });
  chart.append(svg("text", { x: labelWidth, y: height - 4 }, "light: max, dark: mean; log scale"));
}
