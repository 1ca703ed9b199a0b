// Frames from the kernel, as a pipeline:
//   arrival -> decode (createImageBitmap, off the main thread) -> draw, one frame per animation frame.
// Measured on a 2-core machine running kernel, server and browser together, a 512x512 JPEG decode takes
// 20-40 ms and frames arrive in bursts, so:
// * decoding starts on arrival, up to `maxDecodes` at once, and a decode is never abandoned for a newer
//   frame (restarting them would starve the view); only the newest frame waits for a free decoder;
// * decoded frames queue (at most `maxQueued`) and are drawn in order, one per display frame, so a
//   burst of two frames shows both (each is a distinct denoising state) instead of dropping one.
// Frames carry a stream generation (epoch) and a sequence number that restarts at 1 in every epoch
// (a steps change or stop()/start() starts a new stream). A frame of another epoch than the view's resets
// the view: what it drew or queued of the old stream no longer says anything about the order of the new one.
// A drawn frame is acknowledged with its epoch, which acknowledges every earlier one of that epoch (the
// kernel counts acks cumulatively). Every message to the kernel makes it publish busy/idle, and JupyterLab answers each
// busy with a favicon swap (an HTTP request), so acks are also rate-limited (`ackInterval`).

import type { ClientMessage, FrameMessage } from "./protocol";

export interface FrameViewOptions {
  maxDecodes?: number; // decodes in progress at once
  maxQueued?: number; // decoded frames waiting to be drawn; older ones are dropped beyond this
  ackInterval?: number; // ms between acks (the first after a quiet spell goes at once)
}

type Decoded = { message: FrameMessage; bitmap: ImageBitmap };

export class FrameView {
  readonly canvas: HTMLCanvasElement;
  private readonly maxDecodes: number;
  private readonly maxQueued: number;
  private readonly ackInterval: number;
  private waiting: { message: FrameMessage; blob: Blob } | null = null; // arrived, no decoder free yet
  private decoding = 0;
  private queue: Decoded[] = []; // decoded, oldest first
  private drawScheduled = false;
  private drawnSeq = -Infinity; // within `epoch`
  private epochValue: number | null = null; // the stream generation shown; null before the first frame
  private generation = 0; // bumps on dispose() and on a new epoch, so decodes still in progress are thrown away
  private lastAck = -Infinity;
  private unacked: { epoch: number; seq: number } | null = null; // newest drawn frame not yet acknowledged
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  painted = 0;

  constructor(private readonly send: (message: ClientMessage) => void, options: FrameViewOptions = {}) {
    this.maxDecodes = options.maxDecodes ?? 2;
    this.maxQueued = options.maxQueued ?? 2;
    this.ackInterval = options.ackInterval ?? 0;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "sdw-preview";
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", "generated picture");
  }

  /** The stream generation this view shows (null before any frame or welcome). */
  /** The sequence number of the frame on screen (within `epoch`), or null before the first one. */
  get shownSeq(): number | null {
    return Number.isFinite(this.drawnSeq) ? this.drawnSeq : null;
  }

  get epoch(): number | null {
    return this.epochValue;
  }

  /** Follow stream generation `epoch` from now on; another one than the current forgets the old stream. */
  adoptEpoch(epoch: number): void {
    if (epoch === this.epochValue) return;
    this.epochValue = epoch;
    this.drawnSeq = -Infinity;
    this.waiting = null;
    for (const decoded of this.queue) decoded.bitmap.close();
    this.queue = [];
    this.unacked = null; // the old stream is gone: nobody waits for its acks
    this.generation += 1; // decodes of the old epoch still in progress are dropped when they finish
  }

  receive(message: FrameMessage, buffer: DataView | ArrayBuffer): void {
    this.adoptEpoch(message.epoch);
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
    if (this.decoding >= this.maxDecodes || !this.waiting) return;
    const next = this.waiting;
    this.waiting = null;
    this.decoding += 1;
    const generation = this.generation;
    try {
      const bitmap = await createImageBitmap(next.blob);
      this.enqueue(generation, { message: next.message, bitmap });
    } catch (error) {
      console.warn(`[semanticdraw] could not decode frame ${next.message.seq}: ${error}`);
      if (generation === this.generation) { // keep the stream flowing past a bad frame
        this.send({ kind: "ack", epoch: next.message.epoch, seq: next.message.seq });
      }
    } finally {
      this.decoding -= 1;
    }
    void this.decodeNext();
  }

  private enqueue(generation: number, decoded: Decoded): void {
    const seq = decoded.message.seq;
    const newest = this.queue.length ? this.queue[this.queue.length - 1].message.seq : this.drawnSeq;
    if (generation !== this.generation || seq <= newest) { // disposed, or overtaken by a parallel decode
      decoded.bitmap.close();
      return;
    }
    this.queue.push(decoded);
    while (this.queue.length > this.maxQueued) this.queue.shift()?.bitmap.close();
    this.scheduleDraw();
  }

  private scheduleDraw(): void {
    if (this.drawScheduled || !this.queue.length) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => this.drawNext());
  }

  private drawNext(): void {
    this.drawScheduled = false;
    const next = this.queue.shift();
    if (!next) return;
    this.draw(next.bitmap);
    next.bitmap.close();
    this.painted += 1;
    this.drawnSeq = next.message.seq;
    this.canvas.dataset.epoch = String(next.message.epoch); // epoch + seq: the frame on screen
    this.canvas.dataset.seq = String(next.message.seq);
    this.canvas.dataset.settled = String(next.message.settled);
    this.canvas.dataset.painted = String(this.painted);
    this.acknowledge(next.message.epoch, next.message.seq);
    this.scheduleDraw();
  }

  private acknowledge(epoch: number, seq: number): void {
    this.unacked = { epoch, seq };
    const wait = this.ackInterval - (performance.now() - this.lastAck);
    if (wait <= 0) this.flushAck();
    else if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAck(), wait);
  }

  private flushAck(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.unacked === null) return;
    this.send({ kind: "ack", ...this.unacked });
    this.unacked = null;
    this.lastAck = performance.now();
  }

  private draw(bitmap: ImageBitmap): void {
    if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
      this.canvas.width = bitmap.width;
      this.canvas.height = bitmap.height;
    }
    this.canvas.getContext("2d")?.drawImage(bitmap, 0, 0);
  }

  dispose(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.waiting = null;
    for (const decoded of this.queue) decoded.bitmap.close();
    this.queue = [];
    this.generation += 1;
  }
}
