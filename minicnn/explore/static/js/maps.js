// A grid of coloured cells on a canvas: one feature map, or a vector laid out in rows.
// It only draws numbers it is given; marks outline cells (the clicked unit, a window).

const MARK_STYLES = {
  unit: { color: "#f6c90e", width: 2.5 },
  window: { color: "#e08a00", width: 2 },
  winner: { color: "#d53f8c", width: 2.5 },
  consumer: { color: "#2f855a", width: 2 },
  all: { color: "#e08a00", width: 3 },
};

export class GridView {
  // rows x cols cells of `cell` pixels; `count` cells used (a vector's length), row-major.
  constructor(rows, cols, cell, count = rows * cols) {
    this.rows = rows;
    this.cols = cols;
    this.cell = cell;
    this.count = count;
    this.canvas = document.createElement("canvas");
    this.canvas.width = cols * cell;
    this.canvas.height = rows * cell;
    this.small = document.createElement("canvas");
    this.small.width = cols;
    this.small.height = rows;
    this.marks = [];
  }

  // values[offset + k] for cell k, coloured by color(value) -> [r, g, b].
  draw(values, offset, color) {
    const context = this.small.getContext("2d");
    const image = context.createImageData(this.cols, this.rows);
    for (let k = 0; k < this.rows * this.cols; k++) {
      const rgb = k < this.count ? color(values[offset + k]) : [255, 255, 255];
      image.data.set([rgb[0], rgb[1], rgb[2], k < this.count ? 255 : 0], 4 * k);
    }
    context.putImageData(image, 0, 0);
    this.render();
  }

  clear() {
    this.small.getContext("2d").clearRect(0, 0, this.cols, this.rows);
    this.render();
  }

  setMarks(marks) {
    this.marks = marks;
    this.render();
  }

  render() {
    const context = this.canvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    context.drawImage(this.small, 0, 0, this.canvas.width, this.canvas.height);
    if (this.cell >= 6 && this.rows * this.cols > 1) {
      // Faint cell borders, so single units read as units.
      context.strokeStyle = "rgba(255,255,255,0.18)";
      context.lineWidth = 1;
      context.beginPath();
      for (let r = 1; r < this.rows; r++) {
        context.moveTo(0, r * this.cell + 0.5);
        context.lineTo(this.canvas.width, r * this.cell + 0.5);
      }
      for (let c = 1; c < this.cols; c++) {
        context.moveTo(c * this.cell + 0.5, 0);
        context.lineTo(c * this.cell + 0.5, this.canvas.height);
      }
      context.stroke();
    }
    for (const mark of this.marks) this.drawMark(context, mark);
  }

  // mark: {kind, cells: [k, ...]} (cell numbers) or {kind, all: true}.
  drawMark(context, mark) {
    const style = MARK_STYLES[mark.kind] || MARK_STYLES.window;
    context.strokeStyle = style.color;
    context.lineWidth = style.width;
    const inset = style.width / 2;
    if (mark.all) {
      context.strokeRect(inset, inset, this.canvas.width - style.width, this.canvas.height - style.width);
      return;
    }
    const cells = mark.cells.filter((k) => k >= 0 && k < this.count);
    if (!cells.length) return;
    if (mark.box) {
      // One rectangle around a window's cells (they are contiguous unless dilated).
      let r0 = Infinity, r1 = -1, c0 = Infinity, c1 = -1;
      for (const k of cells) {
        const r = Math.floor(k / this.cols), c = k % this.cols;
        r0 = Math.min(r0, r); r1 = Math.max(r1, r); c0 = Math.min(c0, c); c1 = Math.max(c1, c);
      }
      context.strokeRect(c0 * this.cell + inset, r0 * this.cell + inset,
        (c1 - c0 + 1) * this.cell - style.width, (r1 - r0 + 1) * this.cell - style.width);
      return;
    }
    for (const k of cells) {
      const r = Math.floor(k / this.cols), c = k % this.cols;
      context.strokeRect(c * this.cell + inset, r * this.cell + inset,
        this.cell - style.width, this.cell - style.width);
    }
  }

  // The cell under a mouse event, or -1.
  cellAt(event) {
    const box = this.canvas.getBoundingClientRect();
    const x = (event.clientX - box.left) * (this.canvas.width / box.width);
    const y = (event.clientY - box.top) * (this.canvas.height / box.height);
    const c = Math.floor(x / this.cell), r = Math.floor(y / this.cell);
    if (r < 0 || c < 0 || r >= this.rows || c >= this.cols) return -1;
    const k = r * this.cols + c;
    return k < this.count ? k : -1;
  }
}

// The display size of one map cell: maps of any size come out 60-90 pixels wide.
export function cellSize(height, width) {
  return Math.max(1, Math.min(9, Math.floor(84 / Math.max(height, width))));
}
