// The label map: one byte per pixel, 0 = background, i = brush i - 1. Pure data, no DOM.

import type { Brush } from "./protocol";

export class LabelMap {
  readonly data: Uint8Array;

  constructor(readonly width: number, readonly height: number, data?: Uint8Array) {
    if (data && data.length !== width * height) {
      throw new Error(`label map needs ${width * height} bytes, got ${data.length}`);
    }
    this.data = data ? new Uint8Array(data) : new Uint8Array(width * height);
  }

  get(x: number, y: number): number {
    return this.data[y * this.width + x];
  }

  /** Paint a filled disc; returns whether any pixel changed. */
  disc(cx: number, cy: number, radius: number, label: number): boolean {
    let changed = false;
    const r = Math.max(0.5, radius);
    const x0 = Math.max(0, Math.floor(cx - r)), x1 = Math.min(this.width - 1, Math.ceil(cx + r));
    const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(this.height - 1, Math.ceil(cy + r));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        if (dx * dx + dy * dy <= r * r) {
          const i = y * this.width + x;
          if (this.data[i] !== label) {
            this.data[i] = label;
            changed = true;
          }
        }
      }
    }
    return changed;
  }

  /** Paint a stroke segment as discs spaced at most half a radius apart (no gaps at speed). */
  line(x0: number, y0: number, x1: number, y1: number, radius: number, label: number): boolean {
    const distance = Math.hypot(x1 - x0, y1 - y0);
    const count = Math.max(1, Math.ceil(distance / Math.max(0.5, radius / 2)));
    let changed = false;
    for (let i = 0; i <= count; i++) {
      const t = i / count;
      changed = this.disc(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, radius, label) || changed;
    }
    return changed;
  }

  /** 4-connected flood fill of the region under (x, y) with `label`. */
  fill(x: number, y: number, label: number): boolean {
    x = Math.floor(x);
    y = Math.floor(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return false;
    const target = this.get(x, y);
    if (target === label) return false;
    const stack = [y * this.width + x];
    while (stack.length) {
      const i = stack.pop()!;
      if (this.data[i] !== target) continue;
      this.data[i] = label;
      const px = i % this.width;
      if (px > 0) stack.push(i - 1);
      if (px < this.width - 1) stack.push(i + 1);
      if (i >= this.width) stack.push(i - this.width);
      if (i < this.data.length - this.width) stack.push(i + this.width);
    }
    return true;
  }

  clear(): boolean {
    const changed = this.data.some((v) => v !== 0);
    this.data.fill(0);
    return changed;
  }

  /** Drop a brush: its pixels become background and higher labels shift down by one. */
  removeLabel(label: number): void {
    for (let i = 0; i < this.data.length; i++) {
      const v = this.data[i];
      if (v === label) this.data[i] = 0;
      else if (v > label) this.data[i] = v - 1;
    }
  }

  /** Swap two labels (brush reordering). */
  swapLabels(a: number, b: number): void {
    for (let i = 0; i < this.data.length; i++) {
      if (this.data[i] === a) this.data[i] = b;
      else if (this.data[i] === b) this.data[i] = a;
    }
  }

  count(label: number): number {
    let n = 0;
    for (const v of this.data) if (v === label) n++;
    return n;
  }
}

/** The palette as an undo step saw it: removing or reordering a brush renumbers the label map, so the map and
 * the brush list (and which brush paints) must come back together or a stroke returns as another brush. */
export interface PaletteSnapshot {
  brushes: Brush[];
  selected: number; // 1-based label of the brush painted with
}

/** One undo step: the label map before an edit, and the palette too when the edit changed it. */
export interface Snapshot {
  labels: Uint8Array;
  palette?: PaletteSnapshot;
}

function copy(snapshot: Snapshot, withPalette: boolean): Snapshot {
  const { labels, palette } = snapshot;
  return withPalette && palette
    ? { labels: labels.slice(), palette: { brushes: palette.brushes.map((b) => ({ ...b })), selected: palette.selected } }
    : { labels: labels.slice() };
}

/** Bounded undo/redo of whole snapshots (a 512x512 map is 256 KiB; 50 steps ≈ 13 MiB). A stroke's step holds
 * the map only (undoing it leaves later prompt edits alone); a palette edit's step holds the brushes as well,
 * and so does the redo step it leaves. */
export class UndoStack {
  private undoStack: Snapshot[] = [];
  private redoStack: Snapshot[] = [];

  constructor(private readonly limit = 50) {}

  /** Remember `before` (the state prior to an edit); clears the redo history. */
  push(before: Snapshot): void {
    this.undoStack.push(copy(before, true));
    if (this.undoStack.length > this.limit) this.undoStack.shift();
    this.redoStack = [];
  }

  /** The state to restore, given the `current` one (with its palette: kept only if the step needs it). */
  undo(current: Snapshot): Snapshot | null {
    const previous = this.undoStack.pop();
    if (!previous) return null;
    this.redoStack.push(copy(current, previous.palette !== undefined));
    return previous;
  }

  redo(current: Snapshot): Snapshot | null {
    const next = this.redoStack.pop();
    if (!next) return null;
    this.undoStack.push(copy(current, next.palette !== undefined));
    return next;
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }
}

async function pipe(data: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const blob = new Blob([data as BlobPart]);
  const buffer = await new Response(blob.stream().pipeThrough(stream)).arrayBuffer();
  return new Uint8Array(buffer);
}

/** zlib ("deflate" in the Compression Streams spec), which Python's zlib.decompress reads. */
export function compressLabels(data: Uint8Array): Promise<Uint8Array> {
  return pipe(data, new CompressionStream("deflate"));
}

export async function decompressLabels(data: Uint8Array, width: number, height: number): Promise<LabelMap> {
  if (data.length === 0) return new LabelMap(width, height);
  return new LabelMap(width, height, await pipe(data, new DecompressionStream("deflate")));
}
