import { afterEach, describe, expect, it, vi } from "vitest";
import { FrameView, type FrameViewOptions } from "../src/frames";
import type { ClientMessage, FrameMessage } from "../src/protocol";

const frame = (seq: number, epoch = 1): FrameMessage => ({ kind: "frame", epoch, seq, mime: "image/jpeg", width: 4, height: 4, settled: seq === 3, tick: seq, step: 4 });
const settle = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

/** createImageBitmap stand-in whose decodes finish only when the test says so. */
function manualDecoder() {
  const started: { size: number; finish: () => void }[] = [];
  const closed: number[] = [];
  vi.stubGlobal("createImageBitmap", (blob: Blob) => new Promise((resolve) => {
    const bitmap = { width: 4, height: 4, close: () => closed.push(blob.size) };
    started.push({ size: blob.size, finish: () => resolve(bitmap) });
  }));
  return { started, closed };
}

/** requestAnimationFrame stand-in that runs callbacks only when the test ticks the display. */
function manualDisplay() {
  let callbacks: FrameRequestCallback[] = [];
  vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => { callbacks.push(cb); return callbacks.length; });
  return () => { const run = callbacks; callbacks = []; run.forEach((cb) => cb(performance.now())); };
}

/** A FrameView whose decodes and display frames the test drives, and the messages it sends. */
function harness(options?: FrameViewOptions) {
  const decoder = manualDecoder();
  const vsync = manualDisplay();
  const sent: ClientMessage[] = [];
  const view = new FrameView((m) => sent.push(m), options);
  return { decoder, vsync, sent, view };
}

describe("FrameView", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("decodes up to maxDecodes frames at once, keeps only the newest waiting one, and acks what it draws", async () => {
    const { decoder, vsync, sent, view } = harness({ maxDecodes: 1 });
    expect(view.shownSeq).toBeNull();
    view.receive(frame(1), new ArrayBuffer(1));
    view.receive(frame(2), new ArrayBuffer(2)); // waits behind 1's decode ...
    view.receive(frame(3), new DataView(new ArrayBuffer(3))); // ... and is replaced by 3
    expect(decoder.started.map((d) => d.size)).toEqual([1]);
    decoder.started[0].finish();
    await settle();
    expect(decoder.started.map((d) => d.size)).toEqual([1, 3]); // 3's decode starts before 1 is drawn
    vsync();
    expect(sent).toEqual([{ kind: "ack", epoch: 1, seq: 1 }]);
    decoder.started[1].finish();
    await settle();
    vsync();
    expect(sent).toEqual([{ kind: "ack", epoch: 1, seq: 1 }, { kind: "ack", epoch: 1, seq: 3 }]); // acking 3 also acks the dropped 2
    expect(view.canvas.dataset.seq).toBe("3");
    expect(view.shownSeq).toBe(3); // what a heartbeat hello names, so the kernel does not resend it
    expect(view.canvas.dataset.settled).toBe("true");
    expect(view.painted).toBe(2);
  });

  it("decodes in parallel but never draws an older frame after a newer one", async () => {
    const { decoder, vsync, sent, view } = harness({ maxDecodes: 2 });
    view.receive(frame(1), new ArrayBuffer(1));
    view.receive(frame(2), new ArrayBuffer(2));
    expect(decoder.started.map((d) => d.size)).toEqual([1, 2]);
    decoder.started[1].finish(); // 2 finishes first ...
    await settle();
    decoder.started[0].finish(); // ... so 1, finishing later, is stale
    await settle();
    vsync();
    vsync();
    expect(sent).toEqual([{ kind: "ack", epoch: 1, seq: 2 }]);
    expect(decoder.closed).toEqual([1, 2]);
  });

  it("acks at most every ackInterval ms, cumulatively", async () => {
    const { decoder, vsync, sent, view } = harness({ ackInterval: 60 });
    for (let seq = 1; seq <= 3; seq++) {
      view.receive(frame(seq), new ArrayBuffer(seq));
      decoder.started[seq - 1].finish();
      await settle(5);
      vsync();
    }
    expect(view.painted).toBe(3);
    expect(sent).toEqual([{ kind: "ack", epoch: 1, seq: 1 }]); // the first at once, the rest wait for the interval
    await settle(100);
    expect(sent).toEqual([{ kind: "ack", epoch: 1, seq: 1 }, { kind: "ack", epoch: 1, seq: 3 }]);
  });

  it("never abandons a decode for a newer frame, so slow decodes still show pictures", async () => {
    const { decoder, vsync, sent, view } = harness();
    for (let seq = 1; seq <= 6; seq++) {
      view.receive(frame(seq), new ArrayBuffer(seq)); // a new frame arrives during every decode
      decoder.started[decoder.started.length - 1].finish();
      await settle(5);
      vsync();
    }
    expect(view.painted).toBeGreaterThanOrEqual(5);
    expect(sent.at(-1)).toEqual({ kind: "ack", epoch: 1, seq: 6 });
  });

  it("shows a burst of frames one per display frame, in order, dropping the oldest beyond maxQueued", async () => {
    const { decoder, vsync, sent, view } = harness({ maxDecodes: 3, maxQueued: 2 });
    for (let seq = 1; seq <= 3; seq++) view.receive(frame(seq), new ArrayBuffer(seq));
    decoder.started.forEach((d) => d.finish()); // all three decoded before the display refreshes
    await settle();
    expect(decoder.closed).toEqual([1]); // only two fit the queue
    vsync();
    expect(view.canvas.dataset.seq).toBe("2");
    vsync();
    expect(view.canvas.dataset.seq).toBe("3");
    expect(sent).toEqual([{ kind: "ack", epoch: 1, seq: 2 }, { kind: "ack", epoch: 1, seq: 3 }]);
    expect(view.painted).toBe(2);
  });

  it("acks a frame it cannot decode so the stream keeps flowing", async () => {
    vi.stubGlobal("createImageBitmap", async () => { throw new Error("corrupt"); });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const sent: ClientMessage[] = [];
    const view = new FrameView((m) => sent.push(m));
    view.receive(frame(7), new ArrayBuffer(2));
    await settle();
    expect(sent).toEqual([{ kind: "ack", epoch: 1, seq: 7 }]);
    expect(view.painted).toBe(0);
    expect(warn).toHaveBeenCalled();
  });

  it("a snapshot still never covers a live frame, and dispose() drops decodes in progress", async () => {
    const { decoder, vsync, sent, view } = harness();
    view.receive(frame(1), new ArrayBuffer(1));
    decoder.started[0].finish();
    await settle();
    vsync();
    const still = view.showStill(new Uint8Array(9), "image/jpeg");
    expect(decoder.started).toHaveLength(1); // nothing to decode: a live frame is already shown
    await still;
    view.receive(frame(2), new ArrayBuffer(2));
    view.dispose();
    decoder.started[1].finish();
    await settle();
    vsync();
    expect(sent).toEqual([{ kind: "ack", epoch: 1, seq: 1 }]);
    expect(decoder.closed).toEqual([1, 2]);
  });
});

describe("FrameView epochs (a restarted stream numbers its frames from 1 again)", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("a frame of a new epoch resets the view instead of being dropped as old, and acks name the epoch", async () => {
    const { decoder, vsync, sent, view } = harness();
    for (let seq = 1; seq <= 6; seq++) {
      view.receive(frame(seq, 1), new ArrayBuffer(seq));
      decoder.started[seq - 1].finish();
      await settle(5);
      vsync();
    }
    expect(view.canvas.dataset.seq).toBe("6");
    // steps changed: a new stream starts at seq 1 in epoch 2; before, seq 1 <= 6 was dropped and never acked
    for (let seq = 1; seq <= 2; seq++) {
      view.receive(frame(seq, 2), new ArrayBuffer(10 + seq));
      decoder.started.at(-1)?.finish();
      await settle(5);
      vsync();
    }
    expect(view.epoch).toBe(2);
    expect(view.canvas.dataset.epoch).toBe("2");
    expect(view.canvas.dataset.seq).toBe("2");
    expect(sent.filter((m) => m.kind === "ack" && m.epoch === 2)).toEqual([
      { kind: "ack", epoch: 2, seq: 1 }, { kind: "ack", epoch: 2, seq: 2 }]);
  });

  it("drops decodes and queued frames of the old epoch, and its unsent ack", async () => {
    const { decoder, vsync, sent, view } = harness({ maxDecodes: 2, ackInterval: 100 });
    view.receive(frame(1, 1), new ArrayBuffer(1));
    decoder.started[0].finish();
    await settle();
    vsync(); // drawn, acked at once (the first ack after a quiet spell)
    view.receive(frame(2, 1), new ArrayBuffer(2));
    decoder.started[1].finish();
    await settle();
    vsync(); // drawn; its ack waits for the interval
    view.receive(frame(3, 1), new ArrayBuffer(3)); // decoding when the new epoch arrives
    view.receive(frame(1, 3), new ArrayBuffer(31));
    decoder.started[2].finish();
    decoder.started[3].finish();
    await settle();
    vsync();
    vsync();
    expect(view.canvas.dataset.epoch).toBe("3");
    expect(view.canvas.dataset.seq).toBe("1");
    expect(view.painted).toBe(3); // 1 and 2 of epoch 1, then 1 of epoch 3; never 3 of epoch 1
    expect(decoder.closed).toContain(3);
    await settle(150);
    expect(sent).toEqual([{ kind: "ack", epoch: 1, seq: 1 }, { kind: "ack", epoch: 3, seq: 1 }]);
  });

  it("adoptEpoch (the kernel's welcome) follows the kernel's current stream", async () => {
    const { decoder, vsync, sent, view } = harness();
    view.receive(frame(4, 1), new ArrayBuffer(4));
    decoder.started[0].finish();
    await settle();
    vsync();
    view.adoptEpoch(2);
    view.adoptEpoch(2); // the same epoch again changes nothing
    view.receive(frame(1, 2), new ArrayBuffer(1));
    decoder.started[1].finish();
    await settle();
    vsync();
    expect(sent.at(-1)).toEqual({ kind: "ack", epoch: 2, seq: 1 });
  });
});
