// The drawing surface: pointer events paint the label map locally (no round trip per point) and the
// map is rendered with each brush's colour. It never talks to the model; the widget wires it up.

import { LabelMap } from "./labels";

export type Tool = "brush" | "eraser" | "fill";

export interface SurfaceState {
  tool(): Tool;
  label(): number; // the selected brush's label (1-based)
  size(): number; // brush radius in canvas pixels
  colors(): (string | null)[]; // colour per label - 1; null hides that brush
}

export interface SurfaceEvents {
  beforeEdit(before: Uint8Array): void; // once per stroke, for undo
  changed(final: boolean): void; // during a stroke (throttled by the caller) and at its end
}

export function parseHex(color: string): [number, number, number] {
  const hex = color.replace("#", "");
  const full = hex.length === 3 ? hex.split("").map((c) => c + c).join("") : hex.padEnd(6, "0");
  const value = parseInt(full.slice(0, 6), 16);
  return Number.isNaN(value) ? [136, 136, 136] : [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

export interface Rect { x: number; y: number; width: number; height: number }

/** RGBA pixels of a label map (or of `rect` of it): brush colours at `alpha`, background transparent. */
export function renderLabels(labels: LabelMap, colors: (string | null)[], alpha = 200,
  rect: Rect = { x: 0, y: 0, width: labels.width, height: labels.height }): Uint8ClampedArray<ArrayBuffer> {
  const rgba = new Uint8ClampedArray(rect.width * rect.height * 4);
  const table = colors.map((c) => (c === null ? null : parseHex(c)));
  let o = 0;
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    for (let i = y * labels.width + rect.x, end = i + rect.width; i < end; i++, o += 4) {
      const label = labels.data[i];
      const rgb = label > 0 ? table[label - 1] : null;
      if (!rgb) continue;
      rgba[o] = rgb[0];
      rgba[o + 1] = rgb[1];
      rgba[o + 2] = rgb[2];
      rgba[o + 3] = alpha;
    }
  }
  return rgba;
}

/** The smallest rect holding both (null: nothing), clipped to width x height. */
export function unionRect(a: Rect | null, b: Rect, width: number, height: number): Rect {
  const x0 = Math.max(0, Math.min(a ? a.x : b.x, b.x)), y0 = Math.max(0, Math.min(a ? a.y : b.y, b.y));
  const x1 = Math.min(width, Math.max(a ? a.x + a.width : 0, b.x + b.width));
  const y1 = Math.min(height, Math.max(a ? a.y + a.height : 0, b.y + b.height));
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

/**
 * The canvas pixel under client point (clientX, clientY) for a canvas shown at `rect` (its border box) with
 * `border` (clientLeft/clientTop) and content size `client` (clientWidth/clientHeight): the display size is
 * scaled by CSS, the pixel size is the canvas's own width x height.
 */
export function pointToPixel(rect: { left: number; top: number; width: number; height: number },
  border: { clientLeft: number; clientTop: number; clientWidth: number; clientHeight: number },
  pixels: { width: number; height: number }, point: { clientX: number; clientY: number }): [number, number] {
  const width = border.clientWidth || rect.width, height = border.clientHeight || rect.height;
  const sx = width ? pixels.width / width : 1;
  const sy = height ? pixels.height / height : 1;
  return [(point.clientX - rect.left - border.clientLeft) * sx, (point.clientY - rect.top - border.clientTop) * sy];
}

export class DrawingSurface {
  readonly canvas: HTMLCanvasElement;
  private drawing = false;
  private last: [number, number] | null = null;
  private frameRequested = false;
  private dirty: Rect | null = null; // what a stroke changed since the last redraw (only that is repainted)

  constructor(
    public labels: LabelMap,
    private readonly state: SurfaceState,
    private readonly events: SurfaceEvents,
    signal: AbortSignal,
  ) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "sdw-draw";
    this.canvas.width = labels.width;
    this.canvas.height = labels.height;
    this.canvas.style.touchAction = "none";
    const on = <K extends keyof HTMLElementEventMap>(type: K, fn: (e: HTMLElementEventMap[K]) => void) =>
      this.canvas.addEventListener(type, fn as EventListener, { signal });
    on("pointerdown", (e) => this.down(e));
    on("pointermove", (e) => this.move(e));
    on("pointerup", (e) => this.up(e));
    on("pointercancel", (e) => this.up(e));
    this.redraw();
  }

  setLabels(labels: LabelMap): void {
    this.labels = labels;
    this.canvas.width = labels.width;
    this.canvas.height = labels.height;
    this.redraw();
  }

  /** Canvas pixel under a pointer event, whatever the CSS size of the canvas. */
  private point(e: PointerEvent): [number, number] {
    return pointToPixel(this.canvas.getBoundingClientRect(), this.canvas, this.canvas, e);
  }

  private paintLabel(): number {
    return this.state.tool() === "eraser" ? 0 : this.state.label();
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0) return;
    const [x, y] = this.point(e);
    this.events.beforeEdit(this.labels.data);
    if (this.state.tool() === "fill") {
      if (this.labels.fill(x, y, this.paintLabel())) {
        this.redraw();
        this.events.changed(true);
      }
      return;
    }
    this.drawing = true;
    this.canvas.setPointerCapture?.(e.pointerId);
    this.last = [x, y];
    this.labels.disc(x, y, this.state.size(), this.paintLabel());
    this.markDirty(x, y, x, y);
    this.scheduleRedraw();
    this.events.changed(false);
  }

  private move(e: PointerEvent): void {
    if (!this.drawing || !this.last) return;
    // coalesced events keep fast strokes smooth at the display's input rate
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const event of events.length ? events : [e]) {
      const [x, y] = this.point(event);
      this.labels.line(this.last[0], this.last[1], x, y, this.state.size(), this.paintLabel());
      this.markDirty(this.last[0], this.last[1], x, y);
      this.last = [x, y];
    }
    this.scheduleRedraw();
    this.events.changed(false);
  }

  private up(e: PointerEvent): void {
    if (!this.drawing) return;
    this.move(e);
    this.drawing = false;
    this.last = null;
    this.events.changed(true);
  }

  private markDirty(x0: number, y0: number, x1: number, y1: number): void {
    const r = Math.ceil(this.state.size()) + 2;
    const x = Math.floor(Math.min(x0, x1)) - r, y = Math.floor(Math.min(y0, y1)) - r;
    const rect = { x, y, width: Math.ceil(Math.max(x0, x1)) + r - x, height: Math.ceil(Math.max(y0, y1)) + r - y };
    this.dirty = unionRect(this.dirty, rect, this.labels.width, this.labels.height);
  }

  private scheduleRedraw(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      const dirty = this.dirty;
      this.dirty = null;
      if (dirty && dirty.width > 0 && dirty.height > 0) this.paint(dirty);
    });
  }

  /** Repaint everything (new labels, colours, an undo); a stroke repaints only what it touched. */
  redraw(): void {
    this.dirty = null;
    this.paint({ x: 0, y: 0, width: this.labels.width, height: this.labels.height });
  }

  private paint(rect: Rect): void {
    const context = this.canvas.getContext("2d");
    if (!context) return; // a test DOM without canvas support: the label map is still kept
    const pixels = renderLabels(this.labels, this.state.colors(), 200, rect);
    context.putImageData(new ImageData(pixels, rect.width, rect.height), rect.x, rect.y);
  }
}
