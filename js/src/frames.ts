// Frames from the kernel: binary image buffers are decoded off the main thread (createImageBitmap) and
// only the newest is drawn, on the next animation frame, into a canvas (no <img> src swaps, so no
// layout work per frame). A drawn frame is acknowledged, which also acknowledges every frame dropped
// before it.

import type { ClientMessage, FrameMessage } from "./protocol";

export class FrameView {
  readonly canvas: HTMLCanvasElement;
  private pending: { message: FrameMessage; blob: Blob } | null = null;
  private scheduled = false;
  private generation = 0; // bumps on every frame so a slow decode never overwrites a newer one
  painted = 0;

  constructor(private readonly send: (message: ClientMessage) => void) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "sdw-preview";
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", "generated picture");
  }

  receive(message: FrameMessage, buffer: DataView | ArrayBuffer): void {
    const bytes = buffer instanceof DataView
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
    this.pending = { message, blob: new Blob([bytes as BlobPart], { type: message.mime }) }; // newest wins
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => void this.paint());
    }
  }

  /** Show a still image (the snapshot trait) without acknowledging anything. */
  async showStill(bytes: Uint8Array, mime: string): Promise<void> {
    if (!bytes.length) return;
    const generation = ++this.generation;
    const bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type: mime }));
    if (generation === this.generation) this.draw(bitmap);
    bitmap.close();
  }

  private async paint(): Promise<void> {
    this.scheduled = false;
    const next = this.pending;
    if (!next) return;
    this.pending = null;
    const generation = ++this.generation;
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(next.blob);
    } catch (error) {
      console.warn(`[semanticdraw] could not decode frame ${next.message.seq}: ${error}`);
      this.send({ kind: "ack", seq: next.message.seq }); // keep the stream flowing past a bad frame
      return;
    }
    if (generation === this.generation) {
      this.draw(bitmap);
      this.painted += 1;
      this.canvas.dataset.seq = String(next.message.seq);
      this.canvas.dataset.settled = String(next.message.settled);
    }
    bitmap.close();
    this.send({ kind: "ack", seq: next.message.seq });
  }

  private draw(bitmap: ImageBitmap): void {
    if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
      this.canvas.width = bitmap.width;
      this.canvas.height = bitmap.height;
    }
    this.canvas.getContext("2d")?.drawImage(bitmap, 0, 0);
  }

  dispose(): void {
    this.pending = null;
    this.generation += 1;
  }
}
