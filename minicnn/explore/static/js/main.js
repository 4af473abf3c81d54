// The page: wires the drawing pad, the test-image picker, the network view, the unit view and
// the live trainer to the JSON API. It computes nothing itself: every number is the server's.

import { decode, decodeAll, getJSON, postJSON } from "./api.js";
import { drawFlow, drawProbabilities } from "./charts.js";
import { fmt, grey, maxAbs, sequential, useDtype } from "./colors.js";
import { DrawingPad } from "./draw.js";
import { NetworkView } from "./network.js";
import { TrainPanel } from "./train.js";
import { highlightFor, renderUnit } from "./unit.js";

const $ = (id) => document.getElementById(id);

const state = {
  model: null,
  nodes: new Map(), // layer name -> tree node
  mode: "forward",
  input: null, // the "input" of every request: {png}, {test_index}
  label: null,
  target: "prediction",
  selected: null, // {layer, index}
  unitState: { channel: 0 },
  parameters: null,
  parametersVersion: null,
  version: null,
};
let network = null;
let pad = null;

// ------------------------------------------------------------------ errors and tooltips
let errorTimer = null;
function showError(message) {
  console.error(`minicnn explore: ${message}`);
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

function hover(event, text) {
  const tip = $("tooltip");
  if (!event) {
    tip.hidden = true;
    return;
  }
  tip.textContent = text;
  tip.style.left = `${event.clientX + 12}px`;
  tip.style.top = `${event.clientY + 12}px`;
  tip.hidden = false;
}

// ------------------------------------------------------------------ refreshing
// One round of requests at a time; changes made meanwhile are gathered into the next round
// (drawing sends many changes a second).
let busy = false;
let dirty = false;
async function refresh() {
  if (busy) {
    dirty = true;
    return;
  }
  busy = true;
  try {
    do {
      dirty = false;
      await update();
    } while (dirty);
  } catch (error) {
    showError(error.message);
  } finally {
    busy = false;
    document.body.dataset.idle = "true";
  }
}

function requestRefresh() {
  document.body.dataset.idle = "false";
  refresh();
}

async function update() {
  if (!state.input) {
    showPrediction(null);
    network.update({ mode: state.mode });
    return;
  }
  const input = state.input;
  const forward = await postJSON("/api/forward", {
    input, parameters: state.parametersVersion !== state.version || !state.parameters,
  });
  if (input !== state.input) return; // drawn over meanwhile: the next round will show it
  state.version = Math.max(state.version, forward.model_version);
  if (forward.parameters) {
    state.parameters = decodeAll(forward.parameters);
    state.parametersVersion = forward.model_version;
  }
  state.label = forward.input.label;
  const view = {
    mode: state.mode,
    input: { frame: decode(forward.input.frame), tensor: decode(forward.input.tensor) },
    outputs: decodeAll(forward.outputs),
    parameters: state.parameters,
  };
  let backward = null;
  if (state.mode === "backward") {
    const target = state.target === "label" && state.label === null ? "prediction" : state.target;
    backward = await postJSON("/api/backward", { input, target, parameters: true });
    view.gradients = decodeAll(backward.gradients);
    view.parameterGrads = decodeAll(backward.parameter_gradients);
    drawFlow($("flow"), backward.flow);
  }
  showInput(view.input.frame, backward ? decode(backward.saliency) : null, forward.input);
  showPrediction(forward, backward);
  network.update(view);
  await updateUnit(backward ? backward.target : null);
}

async function updateUnit(target) {
  if (!state.selected || !state.input) return;
  const request = { input: state.input, layer: state.selected.layer, index: state.selected.index };
  if (target !== null) request.target = target;
  const answer = await postJSON("/api/unit", request);
  const node = state.nodes.get(answer.layer);
  renderUnit($("unit"), answer, node, state.unitState);
  network.applyHighlight(highlightFor(answer, node));
}

// ------------------------------------------------------------------ the left column
function showInput(frame, saliency, info) {
  const canvas = $("input-preview");
  const [channels, height, width] = frame.shape;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  const scale = saliency ? maxAbs(saliency.data) : 0;
  for (let k = 0; k < height * width; k++) {
    let rgb;
    if (saliency) {
      rgb = sequential(saliency.data[k], scale);
    } else if (channels === 3) {
      rgb = [frame.data[k], frame.data[height * width + k], frame.data[2 * height * width + k]];
    } else {
      rgb = grey(frame.data[k], 0, 255);
    }
    image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * k);
  }
  context.putImageData(image, 0, 0);
  const origin = info.label === null ? info.origin : `${info.origin}, label ${info.label}`;
  $("input-caption").textContent = saliency
    ? `saliency |dLoss/d input| (max ${fmt(scale, 2)}); ${origin}` : `what the network sees: ${origin}`;
}

function showPrediction(forward, backward) {
  const chart = $("probabilities");
  if (!forward) {
    $("prediction").textContent = "–";
    chart.replaceChildren();
    return;
  }
  const k = forward.prediction;
  const p = forward.probabilities[k];
  $("prediction").innerHTML = `${String(state.model.classes[k]).split(" - ")[0]} <small>p = ${p.toFixed(3)}</small>`;
  $("prediction").dataset.class = String(k);
  drawProbabilities(chart, forward.probabilities, state.model.classes, k, backward ? backward.target : null);
  if (backward) {
    $("loss-value").textContent = `loss ${fmt(backward.loss, 4)} for class ${backward.target}`;
  }
  document.querySelectorAll("#target-buttons button").forEach((button) => {
    const value = button.dataset.target;
    button.classList.toggle("on", value === String(state.target));
    if (value === "label") button.disabled = state.label === null;
  });
}

function buildTargetButtons(classes) {
  const box = $("target-buttons");
  const add = (text, value, title) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text;
    button.title = title;
    button.dataset.target = String(value);
    button.addEventListener("click", () => {
      state.target = value;
      requestRefresh();
    });
    box.append(button);
  };
  add("predicted", "prediction", "the class the network predicts");
  add("true label", "label", "the test image's label");
  classes.forEach((name, k) => add(String(name).split(" - ")[0], k, `class ${name}`));
}

function setMode(mode) {
  state.mode = mode;
  $("mode-forward").classList.toggle("on", mode === "forward");
  $("mode-backward").classList.toggle("on", mode === "backward");
  $("target-controls").hidden = mode !== "backward";
  $("flow-card").hidden = mode !== "backward";
  requestRefresh();
}

function useTestImage(index) {
  const count = state.model.test_images.count;
  const wrapped = ((Math.round(index) % count) + count) % count;
  $("test-index").value = String(wrapped);
  pad.clear(false);
  $("pad-hint").hidden = false;
  state.input = { test_index: wrapped };
  requestRefresh();
}

function summary(model) {
  const about = model.about || {};
  const accuracy = about.test_accuracy
    ? `, ${(100 * about.test_accuracy).toFixed(2)}% on the ${model.input.dataset} test set` : "";
  return `<b>${model.model}</b> · ${model.parameters.toLocaleString()} parameters · ` +
    `${model.source}${accuracy}`;
}

function collectNodes(node) {
  state.nodes.set(node.name, node);
  for (const child of node.children || []) collectNodes(child);
}

// ------------------------------------------------------------------ start
async function main() {
  const model = await getJSON("/api/model");
  state.model = model;
  state.version = model.model_version;
  useDtype(model.input.dtype);
  collectNodes(model.tree);
  state.nodes.set("input", { name: "input", type: "input", source: null });
  $("model-summary").innerHTML = summary(model);
  $("model-summary").title = [model.about.command ? `trained by: ${model.about.command}` : "",
    model.about.weights || "", model.repr].filter(Boolean).join("\n");
  network = new NetworkView($("network"), model, {
    onHover: hover,
    onSelect: (layer, index) => {
      state.selected = { layer, index };
      state.unitState.channel = 0;
      requestRefresh();
    },
  });
  buildTargetButtons(model.classes);

  pad = new DrawingPad($("draw-canvas"), (png) => {
    $("pad-hint").hidden = Boolean(png);
    if (png) state.input = { png };
    else if (!state.input || state.input.png) state.input = null; // a test image stays
    requestRefresh();
  });
  $("clear-drawing").addEventListener("click", () => pad.clear());
  $("mode-forward").addEventListener("click", () => setMode("forward"));
  $("mode-backward").addEventListener("click", () => setMode("backward"));

  if (model.test_images.count > 0) {
    $("test-picker").hidden = false;
    $("test-index").max = String(model.test_images.count - 1);
    $("test-index").addEventListener("change", () => useTestImage(Number($("test-index").value)));
    $("test-previous").addEventListener("click", () => useTestImage(Number($("test-index").value) - 1));
    $("test-next").addEventListener("click", () => useTestImage(Number($("test-index").value) + 1));
    $("test-random").addEventListener("click", () => useTestImage(Math.floor(Math.random() * model.test_images.count)));
  } else {
    $("test-missing").hidden = false;
    $("test-missing").textContent = `No test images: ${model.test_images.reason}`;
  }

  if (model.training.available) {
    const panel = new TrainPanel({
      run: $("train-run"), step: $("train-step"), steps: $("train-steps"), lr: $("train-lr"),
      momentum: $("train-momentum"), batch: $("train-batch"), curve: $("loss-curve"),
      count: $("train-count"), resetRun: $("train-reset-run"), resetRandom: $("train-reset-random"),
      save: $("train-save"), message: $("train-message"),
    }, (version) => {
      state.version = version; // newer weights: the next round asks for them
      requestRefresh();
    }, showError);
    $("train-save").disabled = !model.training.can_save;
    await panel.start();
  } else {
    $("train-controls").hidden = true;
    $("train-missing").hidden = false;
    $("train-missing").textContent = `Live training needs the training images: ${model.training.reason}`;
  }

  setMode("forward");
  if (model.test_images.count > 0) {
    useTestImage(0);
  } else {
    // A first digit to look at (a "2"), until the learner draws their own.
    pad.stroke([[0.3, 0.3], [0.42, 0.2], [0.6, 0.22], [0.66, 0.36], [0.55, 0.55], [0.3, 0.8], [0.72, 0.8]]);
  }
}

main().catch((error) => showError(`the explorer did not start: ${error.message}`));
