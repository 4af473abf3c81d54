// Train live: SGD in the server on its copy of the network; the loss curve grows as it learns.

import { getJSON, postJSON } from "./api.js";
import { drawLossCurve } from "./charts.js";
import { fmt } from "./colors.js";

const POLL_MS = 400;

export class TrainPanel {
  // onWeightsChanged(modelVersion) when steps were taken; onError(message).
  constructor(elements, onWeightsChanged, onError) {
    this.e = elements;
    this.onWeightsChanged = onWeightsChanged;
    this.onError = onError;
    this.records = [];
    this.status = null;
    this.timer = null;
    this.e.run.addEventListener("click", () => this.send({ action: this.status?.running ? "pause" : "start" }));
    this.e.step.addEventListener("click", () => this.send({ action: "step", steps: this.stepsPerClick() }));
    this.e.resetRun.addEventListener("click", () => this.send({ action: "reset", weights: "run" }, true));
    this.e.resetRandom.addEventListener("click", () => this.send({ action: "reset", weights: "random" }, true));
    this.e.save.addEventListener("click", () => this.save());
    for (const input of [this.e.lr, this.e.momentum, this.e.batch]) {
      input.addEventListener("change", () => this.send({ action: "configure" }));
    }
    drawLossCurve(this.e.curve, []);
  }

  stepsPerClick() {
    const steps = Math.round(Number(this.e.steps.value));
    return Math.min(1000, Math.max(1, Number.isFinite(steps) ? steps : 1));
  }

  settings() {
    const settings = {};
    const lr = Number(this.e.lr.value), momentum = Number(this.e.momentum.value);
    const batch = Math.round(Number(this.e.batch.value));
    if (lr > 0) settings.lr = lr;
    if (momentum >= 0 && momentum < 1) settings.momentum = momentum;
    if (batch >= 1) settings.batch_size = batch;
    return settings;
  }

  async send(request, reset = false) {
    try {
      const status = await postJSON("/api/train", { ...request, ...this.settings() });
      if (reset) this.records = [];
      this.apply(status);
      this.poll();
    } catch (error) {
      this.onError(error.message);
    }
  }

  async save() {
    this.e.save.disabled = true;
    try {
      const saved = await postJSON("/api/save", {});
      this.e.message.textContent = `saved to ${saved.path} (${saved.live_steps} live steps)`;
    } catch (error) {
      this.onError(error.message);
    } finally {
      this.e.save.disabled = false;
    }
  }

  // Ask for the steps not drawn yet, while training runs.
  poll() {
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      try {
        const last = this.records.length ? this.records[this.records.length - 1].step : 0;
        this.apply(await getJSON(`/api/train?since=${last}`));
      } catch (error) {
        this.onError(error.message);
      }
      if (this.status && this.status.running) this.poll();
    }, POLL_MS);
  }

  apply(status) {
    const before = this.status ? this.status.model_version : null;
    this.status = status;
    if (status.records.length) {
      const last = this.records.length ? this.records[this.records.length - 1].step : 0;
      this.records.push(...status.records.filter((r) => r.step > last));
    }
    if (status.steps < (this.records.length ? this.records[this.records.length - 1].step : 0)) {
      this.records = this.records.filter((r) => r.step <= status.steps);
    }
    drawLossCurve(this.e.curve, this.records);
    const latest = this.records[this.records.length - 1];
    this.e.count.textContent = `${status.steps} steps` + (latest ? `, loss ${fmt(latest.loss, 3)}` : "");
    this.e.count.dataset.steps = String(status.steps);
    this.e.run.textContent = status.running ? "❚❚ Pause" : "▶ Run";
    this.e.message.textContent = status.error || `from ${status.started_from}`;
    if (before !== null && status.model_version !== before) this.onWeightsChanged(status.model_version);
  }

  async start() {
    this.apply(await getJSON("/api/train?since=0"));
    if (this.status.running) this.poll();
  }
}
