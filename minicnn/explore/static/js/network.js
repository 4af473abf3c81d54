// The network, drawn from the server's tree (GET /api/model): one row per layer, with its
// output as maps (C, H, W) or a strip of units (F,); a Sequential as a titled group, any other
// module with children as a box holding its children (a residual block), so any model draws.

import { GridView, cellSize } from "./maps.js";
import { css, diverging, exact, fmt, grey, maxAbs, range } from "./colors.js";

const SHOWN_MAPS = 16; // maps drawn per layer before "show all"
const STRIP_COLUMNS = 40;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function shapeText(shape) {
  return shape ? `(${shape.join(", ")})` : "";
}

// One row: a layer (or the input, or a block's own output) and its maps.
class Row {
  constructor(name, node, shape, callbacks) {
    this.name = name;
    this.node = node;
    this.shape = shape;
    this.callbacks = callbacks;
    this.views = [];
    this.showAll = false;
    this.element = element("div", "layer");
    this.element.dataset.layer = name;
    const head = element("div", "layer-head");
    head.append(element("span", "layer-name", node.displayName || name));
    head.append(element("span", "layer-type", node.type));
    head.append(element("span", "layer-shape", shapeText(shape)));
    if (node.calls > 1) head.append(element("span", "layer-shape", `ran ${node.calls}×: the last call`));
    if (node.repr && node.repr !== `${node.type}()`) head.title = node.repr;
    this.scale = element("span", "layer-scale");
    this.scaleBar = element("canvas");
    this.scaleBar.width = 70;
    this.scaleBar.height = 1;
    this.scaleLow = element("span");
    this.scaleHigh = element("span");
    this.scale.append(this.scaleLow, this.scaleBar, this.scaleHigh);
    head.append(this.scale);
    this.element.append(head);
    this.body = element("div", "maps");
    this.element.append(this.body);
    this.params = element("div", "params");
    this.params.hidden = true;
    this.element.append(this.params);
    this.build();
  }

  get isMaps() {
    return this.shape && this.shape.length === 3;
  }

  build() {
    this.body.replaceChildren();
    this.views = [];
    if (!this.shape || (this.shape.length !== 3 && this.shape.length !== 1)) {
      this.body.append(element("span", "not-run",
        this.shape ? `shape ${shapeText(this.shape)}: not drawn` : "did not run in the forward"));
      return;
    }
    if (this.isMaps) {
      const [channels, height, width] = this.shape;
      const cell = cellSize(height, width);
      const shown = this.showAll ? channels : Math.min(channels, SHOWN_MAPS);
      for (let c = 0; c < shown; c++) {
        const view = new GridView(height, width, cell);
        const box = element("div", "map");
        view.canvas.dataset.layer = this.name;
        view.canvas.dataset.channel = String(c);
        box.append(view.canvas, element("span", "map-label", String(c)));
        this.body.append(box);
        this.attach(view, (k) => [c, Math.floor(k / width), k % width], c * height * width);
        this.views.push(view);
      }
      if (channels > shown) {
        const more = element("button", "more", `show all ${channels}`);
        more.type = "button";
        more.addEventListener("click", () => {
          this.showAll = true;
          this.build();
          this.callbacks.onRebuild(this);
        });
        this.body.append(more);
      }
    } else {
      const length = this.shape[0];
      const columns = Math.min(length, STRIP_COLUMNS);
      const cell = length <= 16 ? 22 : 12;
      const view = new GridView(Math.ceil(length / columns), columns, cell, length);
      const box = element("div", "strip");
      view.canvas.dataset.layer = this.name;
      view.canvas.dataset.channel = "0";
      box.append(view.canvas);
      this.body.append(box);
      this.attach(view, (k) => [k], 0);
      this.views.push(view);
    }
  }

  attach(view, indexOf, offset) {
    view.offset = offset;
    view.indexOf = indexOf;
    view.canvas.addEventListener("mousemove", (event) => {
      const k = view.cellAt(event);
      if (k < 0) return this.callbacks.onHover(null);
      const index = indexOf(k);
      const value = this.values ? this.values.data[offset + k] : null;
      this.callbacks.onHover(event, `${this.name} [${index.join(", ")}] = ${exact(value)}`);
    });
    view.canvas.addEventListener("mouseleave", () => this.callbacks.onHover(null));
    view.canvas.addEventListener("click", (event) => {
      const k = view.cellAt(event);
      if (k >= 0) this.callbacks.onSelect(this.name, indexOf(k));
    });
  }

  // Draw `values` ({shape, data}); `style`: "signed" (diverging, symmetric) or "image" (grey).
  show(values, style = "signed") {
    this.values = values;
    if (!values) {
      for (const view of this.views) view.clear();
      return;
    }
    let color, low, high;
    if (style === "image") {
      [low, high] = range(values.data);
      color = (v) => grey(v, low, high);
    } else {
      high = maxAbs(values.data);
      low = -high;
      color = (v) => diverging(v, high);
    }
    for (const view of this.views) view.draw(values.data, view.offset, color);
    this.drawScale(low, high, style === "image" ? (t) => grey(t, 0, 1) : (t) => diverging(2 * t - 1, 1));
  }

  drawScale(low, high, color) {
    const context = this.scaleBar.getContext("2d");
    for (let x = 0; x < 70; x++) {
      context.fillStyle = css(color(x / 69));
      context.fillRect(x, 0, 1, 1);
    }
    this.scaleLow.textContent = fmt(low, 2);
    this.scaleHigh.textContent = fmt(high, 2);
  }

  // Weights (forward) or their gradients (backward) of this layer, under its maps.
  showParameters(parameters, title) {
    const weight = parameters && parameters[`${this.name}.weight`];
    if (!weight || weight.shape.length < 2) {
      this.params.hidden = true;
      return;
    }
    this.params.hidden = false;
    this.params.replaceChildren(element("div", "params-title",
      `${title} ${shapeText(weight.shape)}, ±${fmt(maxAbs(weight.data), 2)}`));
    const scale = maxAbs(weight.data);
    const color = (v) => diverging(v, scale);
    if (weight.shape.length === 4) this.params.append(filterTiles(weight, color));
    else if (weight.shape.length === 2) this.params.append(matrixImage(weight, color));
  }

  setMarks(marksByChannel) {
    this.views.forEach((view, c) => view.setMarks(marksByChannel(c) || []));
  }
}

// A convolution's filters: one column per output channel, one tile per input channel.
function filterTiles(weight, color) {
  const [out, inChannels, kh, kw] = weight.shape;
  const shownOut = Math.min(out, 16), shownIn = Math.min(inChannels, 8);
  const cell = Math.max(2, Math.min(8, Math.floor(30 / Math.max(kh, kw))));
  const wrap = element("div", "filters");
  for (let o = 0; o < shownOut; o++) {
    const box = element("div", "filter");
    const canvas = element("canvas");
    canvas.width = kw * cell;
    canvas.height = shownIn * (kh * cell + 2) - 2;
    const context = canvas.getContext("2d");
    for (let i = 0; i < shownIn; i++) {
      for (let u = 0; u < kh; u++) {
        for (let v = 0; v < kw; v++) {
          const value = weight.data[((o * inChannels + i) * kh + u) * kw + v];
          context.fillStyle = css(color(value));
          context.fillRect(v * cell, i * (kh * cell + 2) + u * cell, cell, cell);
        }
      }
    }
    canvas.title = `filter ${o}: ${inChannels} kernel(s) of ${kh}x${kw}`;
    box.append(canvas, element("span", "", String(o)));
    wrap.append(box);
  }
  if (out > shownOut || inChannels > shownIn) {
    wrap.append(element("span", "map-label", `first ${shownOut} of ${out} filters, ${shownIn} of ${inChannels} inputs`));
  }
  return wrap;
}

// A linear layer's weight matrix: one row per output unit, one column per input.
function matrixImage(weight, color) {
  const [rows, cols] = weight.shape;
  const canvas = element("canvas");
  canvas.width = cols;
  canvas.height = rows;
  const context = canvas.getContext("2d");
  const image = context.createImageData(cols, rows);
  for (let k = 0; k < rows * cols; k++) {
    const rgb = color(weight.data[k]);
    image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * k);
  }
  context.putImageData(image, 0, 0);
  const zoom = Math.max(1, Math.min(4, Math.floor(480 / cols), Math.floor(140 / rows)));
  canvas.style.width = `${cols * zoom}px`;
  canvas.style.height = `${rows * zoom}px`;
  canvas.title = `${rows} output units (rows) x ${cols} inputs (columns)`;
  return canvas;
}

export class NetworkView {
  constructor(container, model, callbacks) {
    this.container = container;
    this.model = model;
    this.callbacks = { ...callbacks, onRebuild: () => this.redraw() };
    this.rows = new Map();
    this.last = null;
    container.replaceChildren();
    const inputNode = { type: "the image, normalised", displayName: "input", repr: "(pixel / 255 - mean) / std" };
    this.addRow(container, "input", inputNode, model.input.shape);
    const root = model.tree;
    if (root.kind === "layer") this.addRow(container, root.name, root, root.output_shape);
    else for (const child of root.children) this.render(child, container);
  }

  addRow(container, name, node, shape) {
    const row = new Row(name, node, shape, this.callbacks);
    this.rows.set(name, row);
    container.append(row.element);
    return row;
  }

  render(node, container) {
    if (node.kind === "layer") {
      this.addRow(container, node.name, node, node.output_shape);
      return;
    }
    const group = element("div", `group ${node.kind}`);
    group.dataset.group = node.name;
    const title = node.kind === "block"
      ? `${node.name} · ${node.type} (a block: its layers in the order they ran)`
      : `${node.name} · ${node.type}`;
    group.append(element("div", "group-title", title));
    const body = element("div", "group-body");
    group.append(body);
    container.append(group);
    for (const child of node.children) this.render(child, body);
    if (node.own_output) {
      const outputNode = { ...node, displayName: `${node.name} output`,
        type: `${node.type} (its forward's result)` };
      this.addRow(body, node.name, outputNode, node.output_shape);
    }
  }

  // view: {mode, input: {tensor}, outputs, gradients, parameters, parameterGrads}
  update(view) {
    this.last = view;
    this.redraw();
  }

  redraw() {
    const view = this.last;
    if (!view) return;
    const backward = view.mode === "backward" && view.gradients;
    for (const [name, row] of this.rows) {
      if (backward) {
        row.show(view.gradients[name] || null, "signed");
        row.showParameters(view.parameterGrads, "dLoss/d weight");
      } else if (name === "input") {
        row.show(view.input ? view.input.tensor : null, "image");
      } else {
        row.show(view.outputs ? view.outputs[name] : null, "signed");
        row.showParameters(view.parameters, "weight");
      }
    }
    if (this.highlight) this.applyHighlight(this.highlight);
  }

  // highlight: {unit: {layer, index}, source, reads, winner, consumers: [{layer, reads}]}
  applyHighlight(highlight) {
    this.highlight = highlight;
    const marks = new Map(); // layer -> channel -> [mark]
    const add = (layer, channel, mark) => {
      if (!marks.has(layer)) marks.set(layer, new Map());
      const byChannel = marks.get(layer);
      if (!byChannel.has(channel)) byChannel.set(channel, []);
      byChannel.get(channel).push(mark);
    };
    const mark = (layer, reads, kind, box) => {
      const row = this.rows.get(layer);
      if (!row || !reads) return;
      if (reads.all) {
        row.views.forEach((_, c) => add(layer, c, { kind, all: true }));
      } else if (reads.indices) {
        add(layer, 0, { kind, cells: reads.indices });
      } else if (reads.cells && row.isMaps) {
        const width = row.shape[2];
        for (const c of reads.channels) {
          add(layer, c, { kind, cells: reads.cells.map(([r, s]) => r * width + s) });
        }
      } else if (row.isMaps) {
        const [, height, width] = row.shape;
        for (const c of reads.channels) {
          const cells = [];
          for (const r of reads.rows) {
            for (const s of reads.cols) {
              if (r >= 0 && r < height && s >= 0 && s < width) cells.push(r * width + s);
            }
          }
          add(layer, c, { kind, cells, box });
        }
      }
    };
    if (highlight.source) mark(highlight.source, highlight.reads, "window", true);
    if (highlight.winner) mark(highlight.source, highlight.winner, "winner", false);
    for (const consumer of highlight.consumers || []) mark(consumer.layer, consumer.reads, "consumer", false);
    if (highlight.unit) {
      const { layer, index } = highlight.unit;
      const reads = index.length === 3
        ? { channels: [index[0]], rows: [index[1]], cols: [index[2]] }
        : { indices: [index[index.length - 1]] };
      mark(layer, reads, "unit", false);
    }
    for (const [name, row] of this.rows) {
      const byChannel = marks.get(name);
      row.setMarks((c) => (byChannel ? byChannel.get(c) : null));
      row.element.classList.toggle("selected", Boolean(highlight.unit && highlight.unit.layer === name));
      row.element.classList.toggle("source", highlight.source === name);
    }
  }
}
