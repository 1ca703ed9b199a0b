// Frames from the kernel: binary image buffers become Blob URLs; only the newest is painted (on the
// next animation frame) and then acknowledged, which also acknowledges every frame dropped before it.

import type { ClientMessage, FrameMessage } from "./protocol";

export class FrameView {
  readonly img: HTMLImageElement;
  private pending: { message: FrameMessage; url: string } | null = null;
  private shownUrl: string | null = null;
  private scheduled = false;
  painted = 0;

  constructor(private readonly send: (message: ClientMessage) => void) {
    this.img = document.createElement("img");
    this.img.className = "sdw-preview";
    this.img.alt = "generated picture";
  }

  receive(message: FrameMessage, buffer: DataView | ArrayBuffer): void {
    const bytes = buffer instanceof DataView
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
    const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: message.mime }));
    if (this.pending) URL.revokeObjectURL(this.pending.url); // newest wins
    this.pending = { message, url };
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => void this.paint());
    }
  }

  /** Show a still image (the snapshot trait) without acknowledging anything. */
  showStill(bytes: Uint8Array, mime: string): void {
    if (!bytes.length) return;
    this.swap(URL.createObjectURL(new Blob([bytes as BlobPart], { type: mime })));
  }

  private async paint(): Promise<void> {
    this.scheduled = false;
    const next = this.pending;
    if (!next) return;
    this.pending = null;
    this.swap(next.url);
    try {
      await this.img.decode();
    } catch {
      // decode() rejects when a newer src replaced this one mid-decode; that frame will ack instead
    }
    this.painted += 1;
    this.img.dataset.seq = String(next.message.seq);
    this.img.dataset.settled = String(next.message.settled);
    this.send({ kind: "ack", seq: next.message.seq });
  }

  private swap(url: string): void {
    const old = this.shownUrl;
    this.shownUrl = url;
    this.img.src = url;
    if (old) URL.revokeObjectURL(old);
  }

  dispose(): void {
    if (this.pending) URL.revokeObjectURL(this.pending.url);
    if (this.shownUrl) URL.revokeObjectURL(this.shownUrl);
    this.pending = this.shownUrl = null;
  }
}
