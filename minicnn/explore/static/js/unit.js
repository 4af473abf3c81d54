// The unit view: how the clicked unit's value was computed (POST /api/unit), and in the
// backward view how its gradient was added up. Every number comes from the server.

import { css, diverging, exact, fmt, inkOn, maxAbs, short } from "./colors.js";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function html(tag, className, markup) {
  const node = element(tag, className);
  node.innerHTML = markup;
  return node;
}

const code = (x) => `<b>${exact(x)}</b>`;

// A table of numbers, each cell coloured by its value (None: padding).
function numberTable(rows, title, options = {}) {
  const flat = rows.flat().filter((v) => v !== null);
  const scale = maxAbs(flat) || 1;
  const table = element("table", "numbers");
  rows.forEach((row, r) => {
    const line = element("tr");
    row.forEach((value, c) => {
      const cell = element("td", "", short(value));
      if (value === null) {
        cell.className = "padding";
        cell.title = options.emptyTitle || "padding";
      } else {
        const rgb = diverging(value, scale);
        cell.style.background = css(rgb);
        cell.style.color = inkOn(rgb);
        cell.title = exact(value);
      }
      if (options.winner && options.winner[0] === r && options.winner[1] === c) cell.classList.add("winner");
      line.append(cell);
    });
    table.append(line);
  });
  const block = element("div", "grid-block");
  block.append(element("span", "grid-title", title), table);
  return block;
}

// A long vector of products as thin bars (one per term), positive up, negative down.
function productBars(products) {
  const canvas = element("canvas", "vector-products");
  const width = Math.max(products.length, 120);
  canvas.width = width;
  canvas.height = 46;
  const context = canvas.getContext("2d");
  const scale = maxAbs(products.map((v) => v || 0)) || 1;
  const step = width / products.length;
  context.fillStyle = "#e2e8f0";
  context.fillRect(0, 22, width, 1);
  products.forEach((value, i) => {
    const h = 21 * (value || 0) / scale;
    context.fillStyle = css(diverging(value || 0, scale));
    context.fillRect(i * step, h >= 0 ? 22 - h : 23, Math.max(1, step - (step > 3 ? 1 : 0)), Math.abs(h));
  });
  canvas.title = `${products.length} products, largest |product| ${fmt(scale)}`;
  return canvas;
}

function topTerms(terms, count = 5) {
  return terms.map((t, i) => ({ ...t, i })).filter((t) => t.product !== null)
    .sort((a, b) => Math.abs(b.product) - Math.abs(a.product)).slice(0, count);
}

function difference(explanation) {
  const d = explanation.difference;
  if (d === null || d === undefined) return "";
  return d === 0 ? " (exactly)"
    : ` (differs by ${fmt(d, 2)}: float32 rounding, the layer adds in another order)`;
}

// ---------------------------------------------------------------- forward explanations
const FORWARD = {
  conv2d(f, box, state) {
    const channels = f.reads.channels;
    let selected = Math.min(state.channel || 0, channels.length - 1);
    const chips = element("div", "chips");
    const grids = element("div", "grids");
    const show = () => {
      chips.querySelectorAll("button").forEach((b, i) => b.classList.toggle("on", i === selected));
      grids.replaceChildren(
        numberTable(f.patch[selected], `input ch ${channels[selected]}`),
        element("span", "op", "×"),
        numberTable(f.kernel[selected], "kernel"),
        numberTable(f.products[selected], `= products (Σ ${short(f.channel_sums[selected])})`));
    };
    if (channels.length > 1) {
      channels.forEach((channel, i) => {
        const chip = element("button", "", `ch ${channel}: ${short(f.channel_sums[i])}`);
        chip.type = "button";
        chip.addEventListener("click", () => { selected = i; state.channel = i; show(); });
        chips.append(chip);
      });
      box.append(html("div", "hint", "the window in each input channel (its sum of products):"), chips);
    }
    box.append(grids);
    show();
    const count = f.products.length * f.products[0].length * f.products[0][0].length;
    box.append(html("div", "equation",
      `Σ of ${count} products = ${code(f.sum)}<br>` +
      (f.bias === null ? "" : `+ bias ${code(f.bias)}<br>`) +
      `= ${code(f.total)}<br>the layer's float32 output: ${code(f.value)}${difference(f)}`));
  },

  linear(f, box) {
    box.append(html("div", "hint", `each of the ${f.inputs.length} inputs times its weight (bars: the products):`));
    box.append(productBars(f.products));
    const terms = topTerms(f.products.map((product, i) => ({ product, x: f.inputs[i], w: f.weights[i] })));
    box.append(html("div", "windows", "largest: " + terms.map((t) =>
      `x[${t.i}] ${short(t.x)} × w ${short(t.w)} = ${short(t.product)}`).join("; ")));
    box.append(html("div", "equation",
      `Σ of ${f.products.length} products = ${code(f.sum)}<br>` +
      (f.bias === null ? "" : `+ bias ${code(f.bias)}<br>`) +
      `= ${code(f.total)}<br>the layer's float32 output: ${code(f.value)}${difference(f)}`));
  },

  max_pool2d(f, box) {
    const winner = f.winner ? [f.reads.rows.indexOf(f.winner[0]), f.reads.cols.indexOf(f.winner[1])] : null;
    const grids = element("div", "grids");
    grids.append(numberTable(f.patch[0], `window of channel ${f.reads.channels[0]}`, { winner }));
    box.append(grids);
    box.append(html("div", "equation",
      `max of the window = ${code(f.value)}<br>the winner: input (${f.winner ? f.winner.join(", ") : "none"}), ` +
      "outlined; ties go to the first in row-major order, as in PyTorch. In the backward, only " +
      "the winner gets this unit's gradient."));
  },

  avg_pool2d(f, box) {
    const grids = element("div", "grids");
    grids.append(numberTable(f.patch[0], `window of channel ${f.reads.channels[0]}`));
    box.append(grids);
    box.append(html("div", "equation",
      `Σ window = ${code(f.sum)} / ${f.divisor} = ${code(f.total)}<br>the layer's output: ${code(f.value)}${difference(f)}`));
  },

  elementwise(f, box) {
    box.append(html("div", "equation",
      `y = ${f.formula}<br>in: x = ${code(f.input)}<br>out: y = ${code(f.value)}`));
  },

  flatten(f, box) {
    box.append(html("div", "equation",
      `the same number, moved: input [${f.source.join(", ")}] = ${code(f.input)}<br>out = ${code(f.value)}`));
  },

  batch_norm(f, box) {
    box.append(html("div", "equation",
      `(x − mean) / std × weight + bias<br>= (${exact(f.input)} − ${exact(f.mean)}) / ${exact(f.std)} × ` +
      `${exact(f.weight)} + ${exact(f.bias)}<br>= ${code(f.total)}; the layer: ${code(f.value)}${difference(f)}`));
  },

  input(f, box) {
    box.append(html("div", "equation",
      `pixel ${f.pixel} (0-255) → ${f.formula}<br>= ${code(f.value)}`));
  },

  values(f, box) {
    box.append(html("div", "equation", `value ${code(f.value)}<br>${f.note}`));
  },
};

// ---------------------------------------------------------------- gradient parts
const PARTS = {
  conv2d(p, box) {
    box.append(html("div", "hint",
      `this unit sat in ${p.windows.length} window(s) of ${p.layer}, at a different kernel offset ` +
      `in each; per output channel, the cell at offset (u, v) holds weight × dL/dy of the window ` +
      "in which the unit was at (u, v):"));
    const grids = element("div", "grids");
    p.channels.forEach((channel, i) => {
      const offsets = p.offsets[i];
      const sum = offsets.flat().reduce((a, v) => a + (v || 0), 0);
      if (i < 16) {
        grids.append(numberTable(offsets, `ch ${channel}: ${short(sum)}`,
          { emptyTitle: "no window held this unit at this offset" }));
      }
    });
    box.append(grids);
    if (p.channels.length > 16) box.append(element("div", "hint", `(first 16 of ${p.channels.length} channels)`));
    box.append(html("div", "equation",
      `Σ of ${p.count} terms = ${code(p.sum)}<br>${p.layer}'s backward: ${code(p.value)}`));
  },

  max_pool2d(p, box) {
    const list = p.windows.map((w) =>
      `<div class="${w.won ? "" : "lost"}">window (${w.row}, ${w.col}): dL/dy ${exact(w.grad)} ${w.won ? "✓ won" : "— lost: 0"}</div>`);
    box.append(html("div", "windows", list.join("")));
    box.append(html("div", "equation", `Σ over the ${p.count} window(s) it won = ${code(p.sum)}`));
  },

  avg_pool2d(p, box) {
    const list = p.windows.map((w) => `<div>window (${w.row}, ${w.col}): ${exact(w.grad)} / ${w.divisor} = ${exact(w.share)}</div>`);
    box.append(html("div", "windows", list.join("")));
    box.append(html("div", "equation", `Σ = ${code(p.sum)}`));
  },

  linear(p, box) {
    box.append(html("div", "hint", `this input fed all ${p.count} units of ${p.layer}: weight × dL/dy for each`));
    box.append(productBars(p.products));
    box.append(html("div", "equation", `Σ of ${p.count} products = ${code(p.sum)}<br>${p.layer}'s backward: ${code(p.value)}`));
  },

  elementwise(p, box) {
    box.append(html("div", "equation",
      `dL/dy ${exact(p.grad)} × f'(x) ${exact(p.slope)} (${p.why})<br>= ${code(p.sum)}`));
  },

  flatten(p, box) {
    box.append(html("div", "equation", `dL/dy at [${p.target.join(", ")}] of ${p.layer} = ${code(p.sum)}`));
  },

  batch_norm(p, box) {
    box.append(html("div", "equation", `dL/dy ${exact(p.grad)} × weight / std ${exact(p.slope)} = ${code(p.sum)}`));
  },

  cross_entropy(p, box) {
    box.append(html("div", "equation",
      `softmax p = ${exact(p.probability)} − ${p.is_target ? "1 (the target class)" : "0 (not the target)"}` +
      `<br>= ${code(p.sum)}`));
  },

  block(p, box) {
    if (p.note) box.append(element("div", "hint", p.note));
    for (const inner of p.parts) box.append(renderPart(inner));
    if (p.other !== null && p.other !== undefined) {
      box.append(html("div", "equation", `through code in the block: ${code(p.other)}`));
    }
  },

  values(p, box) {
    box.append(html("div", "equation", `${code(p.contribution)}<br>${p.note}`));
  },
};

function renderPart(part) {
  const box = element("div", "part");
  box.append(html("div", "part-title",
    `from ${part.layer} <span>${part.type}: ${exact(part.contribution)}</span>`));
  (PARTS[part.kind] || PARTS.values)(part, box);
  return box;
}

// Render `answer` (of POST /api/unit) into `container`; `node` is the tree node of its layer.
export function renderUnit(container, answer, node, state) {
  container.replaceChildren();
  const f = answer.forward;
  const where = answer.layer === "input" ? "the input" : `${answer.layer} · ${node ? node.type : ""}`;
  container.append(html("div", "headline",
    `<b>${where}</b>, unit [${answer.index.join(", ")}] = <span class="value">${exact(answer.value)}</span>`));
  container.append(element("h3", "", "Forward: how it was computed"));
  const forward = element("div", "forward");
  forward.id = "unit-forward";
  (FORWARD[f.kind] || FORWARD.values)(f, forward, state);
  container.append(forward);
  const b = answer.backward;
  if (!b) return;
  container.append(element("h3", "", `Backward: dLoss/d(this unit), target class ${answer.target}`));
  const backward = element("div", "backward");
  backward.id = "unit-backward";
  backward.append(html("div", "equation",
    `dLoss/d unit = ${code(b.value)}, the sum of ${b.parts.length} part(s) below` +
    (b.parts.length > 1 ? " (where a path forks, gradients add)" : "")));
  for (const part of b.parts) backward.append(renderPart(part));
  if (b.note) backward.append(element("p", "note", b.note));
  container.append(backward);
}

// What the network view outlines for `answer`: the unit, the window it read in the layer
// below, the max-pool winner, and the windows that sent its gradient back.
export function highlightFor(answer, node) {
  const f = answer.forward;
  const highlight = { unit: { layer: answer.layer, index: answer.index }, consumers: [] };
  if (node && node.source && f.reads) {
    highlight.source = node.source;
    highlight.reads = f.reads;
    if (f.winner) highlight.winner = { channels: f.reads.channels, rows: [f.winner[0]], cols: [f.winner[1]] };
  }
  const parts = [];
  const collect = (list) => list.forEach((p) => (p.kind === "block" ? collect(p.parts) : parts.push(p)));
  if (answer.backward) collect(answer.backward.parts);
  for (const p of parts) {
    let reads = null;
    if (p.kind === "conv2d") reads = { channels: p.channels, cells: p.windows.map((w) => [w[2], w[3]]) };
    else if (p.kind === "max_pool2d" || p.kind === "avg_pool2d") {
      reads = { channels: p.channels, cells: p.windows.filter((w) => w.won !== false).map((w) => [w.row, w.col]) };
    } else if (p.kind === "linear") reads = { all: true };
    else if (p.kind === "flatten") reads = { indices: [p.target[p.target.length - 1]] };
    else if (p.kind === "elementwise" || p.kind === "batch_norm") {
      const i = answer.index;
      reads = i.length === 3 ? { channels: [i[0]], rows: [i[1]], cols: [i[2]] } : { indices: [i[i.length - 1]] };
    }
    if (reads) highlight.consumers.push({ layer: p.layer, reads });
  }
  return highlight;
}
