// Frames from the kernel, as a two-stage pipeline:
//   arrival -> decode (createImageBitmap, off the main thread, one at a time) -> draw on the next animation frame.
// Decoding starts as soon as a frame arrives rather than at the next animation frame, and a decode in
// progress is never abandoned for a newer frame: under load (a busy kernel, server and browser sharing a
// few cores) decodes take longer than the gap between frames, and restarting them would starve the view.
// Only the newest frame waits at each stage; older ones are dropped there. A drawn frame is acknowledged,
// which acknowledges every frame dropped before it (the kernel's flow control counts acks cumulatively).

import type { ClientMessage, FrameMessage } from "./protocol";

export class FrameView {
  readonly canvas: HTMLCanvasElement;
  private waiting: { message: FrameMessage; blob: Blob } | null = null; // arrived, not yet decoding
  private decoding = false;
  private ready: { message: FrameMessage; bitmap: ImageBitmap } | null = null; // decoded, not yet drawn
  private drawScheduled = false;
  private generation = 0; // bumps on dispose(), so decodes still in progress are thrown away
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
    this.waiting = { message, blob: new Blob([bytes as BlobPart], { type: message.mime }) }; // newest wins
    void this.decodeNext();
  }

  /** Show a still image (the snapshot trait) until the first live frame; acknowledges nothing. */
  async showStill(bytes: Uint8Array, mime: string): Promise<void> {
    if (!bytes.length || this.painted) return;
    const bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type: mime }));
    if (!this.painted) this.draw(bitmap); // a live frame drawn meanwhile is newer
    bitmap.close();
  }

  private async decodeNext(): Promise<void> {
    if (this.decoding || !this.waiting) return;
    const next = this.waiting;
    this.waiting = null;
    this.decoding = true;
    const generation = this.generation;
    try {
      const bitmap = await createImageBitmap(next.blob);
      if (generation !== this.generation) {
        bitmap.close();
      } else {
        this.ready?.bitmap.close(); // decoded but never drawn: a newer one replaces it
        this.ready = { message: next.message, bitmap };
        this.scheduleDraw();
      }
    } catch (error) {
      console.warn(`[semanticdraw] could not decode frame ${next.message.seq}: ${error}`);
      this.send({ kind: "ack", seq: next.message.seq }); // keep the stream flowing past a bad frame
    } finally {
      this.decoding = false;
    }
    void this.decodeNext();
  }

  private scheduleDraw(): void {
    if (this.drawScheduled) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => this.drawReady());
  }

  private drawReady(): void {
    this.drawScheduled = false;
    const ready = this.ready;
    if (!ready) return;
    this.ready = null;
    this.draw(ready.bitmap);
    ready.bitmap.close();
    this.painted += 1;
    this.canvas.dataset.seq = String(ready.message.seq);
    this.canvas.dataset.settled = String(ready.message.settled);
    this.send({ kind: "ack", seq: ready.message.seq });
  }

  private draw(bitmap: ImageBitmap): void {
    if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
      this.canvas.width = bitmap.width;
      this.canvas.height = bitmap.height;
    }
    this.canvas.getContext("2d")?.drawImage(bitmap, 0, 0);
  }

  dispose(): void {
    this.waiting = null;
    this.ready?.bitmap.close();
    this.ready = null;
    this.generation += 1;
  }
}
