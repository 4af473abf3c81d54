// The drawing pad: white ink on black, as MNIST's digits are, with mouse, pen or touch.

export class DrawingPad {
  // onChange(pngDataUrl | null) after every stroke segment (null: the pad was cleared).
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.onChange = onChange;
    this.context = canvas.getContext("2d");
    this.drawing = false;
    this.empty = true;
    this.last = null;
    this.clear(false);
    canvas.addEventListener("pointerdown", (event) => this.start(event));
    canvas.addEventListener("pointermove", (event) => this.move(event));
    for (const name of ["pointerup", "pointercancel", "pointerleave"]) {
      canvas.addEventListener(name, () => this.stop());
    }
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (this.canvas.width / box.width),
      (event.clientY - box.top) * (this.canvas.height / box.height)];
  }

  start(event) {
    event.preventDefault();
    this.canvas.setPointerCapture?.(event.pointerId);
    this.drawing = true;
    this.last = this.point(event);
    this.line(this.last, this.last);
  }

  move(event) {
    if (!this.drawing) return;
    event.preventDefault();
    const next = this.point(event);
    this.line(this.last, next);
    this.last = next;
  }

  stop() {
    this.drawing = false;
  }

  line(from, to) {
    const context = this.context;
    const width = this.canvas.width / 12;
    context.fillStyle = context.strokeStyle = "#fff";
    if (from[0] === to[0] && from[1] === to[1]) {
      // A line of length zero strokes nothing: a dot is a filled disc.
      context.beginPath();
      context.arc(from[0], from[1], width / 2, 0, 2 * Math.PI);
      context.fill();
    } else {
      context.lineWidth = width;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.beginPath();
      context.moveTo(from[0], from[1]);
      context.lineTo(to[0], to[1]);
      context.stroke();
    }
    this.empty = false;
    this.onChange(this.canvas.toDataURL("image/png"));
  }

  // A polyline in the pad's 0-1 coordinates (a starting digit when no test image exists).
  stroke(points) {
    const size = this.canvas.width;
    for (let i = 1; i < points.length; i++) {
      this.line([points[i - 1][0] * size, points[i - 1][1] * size], [points[i][0] * size, points[i][1] * size]);
    }
  }

  clear(notify = true) {
    this.context.fillStyle = "#000";
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.empty = true;
    if (notify) this.onChange(null);
  }
}
