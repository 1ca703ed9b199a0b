// Label map -> `labels` trait. A stream needs a fresh map every `steps` ticks to keep going, so during a
// stroke the map syncs at a steady cadence: the first change at once, later ones at most every `interval`
// ms (a pending sync is not pushed back by further changes, so a long stroke keeps the stream fed), and
// the stroke end at once. Compression is asynchronous; a map overtaken by a newer one is never published.

import { compressLabels } from "./labels";

export interface LabelSyncOptions {
  interval: number; // ms between syncs during a stroke
  compress?: (data: Uint8Array) => Promise<Uint8Array>;
}

export class LabelSync {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastSync = -Infinity;
  private pushes = 0;
  private own: DataView | null = null; // the last value this view published, to skip its own echo
  private readonly compress: (data: Uint8Array) => Promise<Uint8Array>;

  constructor(
    private readonly current: () => Uint8Array, // the label map now
    private readonly publish: (labels: DataView) => void,
    private readonly options: LabelSyncOptions,
  ) {
    this.compress = options.compress ?? compressLabels;
  }

  /** The map changed; `final` at a stroke end (or any one-off edit): sync at once. */
  changed(final: boolean): void {
    const wait = this.options.interval - (Date.now() - this.lastSync);
    if (final || wait <= 0) void this.push();
    else if (!this.timer) this.timer = setTimeout(() => void this.push(), wait);
  }

  /** Whether `labels` is the value this view published last (the model's echo of it). */
  isOwn(labels: DataView | null | undefined): boolean {
    return labels != null && labels === this.own;
  }

  private async push(): Promise<void> {
    this.clearTimer();
    this.lastSync = Date.now();
    const push = ++this.pushes;
    let compressed: Uint8Array;
    try {
      compressed = await this.compress(this.current());
    } catch (error) {
      if (push === this.pushes) console.warn(`[semanticdraw] could not compress the label map: ${error}`);
      return; // the next change syncs again
    }
    if (push !== this.pushes) return; // a newer map is on its way, or the view is gone
    this.own = new DataView(compressed.buffer as ArrayBuffer, compressed.byteOffset, compressed.byteLength);
    this.publish(this.own);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  dispose(): void {
    this.clearTimer();
    this.pushes += 1; // a compression in progress publishes nothing
  }
}
