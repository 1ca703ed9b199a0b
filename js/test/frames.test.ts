import { afterEach, describe, expect, it, vi } from "vitest";
import { FrameView } from "../src/frames";
import type { ClientMessage, FrameMessage } from "../src/protocol";

const frame = (seq: number): FrameMessage => ({ kind: "frame", seq, mime: "image/jpeg", width: 4, height: 4, settled: seq === 3, tick: seq, step: 4 });

describe("FrameView", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("draws only the newest frame per animation frame and acks it (which acks the dropped ones too)", async () => {
    const decoded: Blob[] = [];
    vi.stubGlobal("createImageBitmap", async (blob: Blob) => {
      decoded.push(blob);
      return { width: 4, height: 4, close: () => undefined };
    });
    const sent: ClientMessage[] = [];
    const view = new FrameView((m) => sent.push(m));
    view.receive(frame(1), new ArrayBuffer(3));
    view.receive(frame(2), new ArrayBuffer(3));
    view.receive(frame(3), new DataView(new ArrayBuffer(5)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(decoded.map((b) => b.size)).toEqual([5]);
    expect(sent).toEqual([{ kind: "ack", seq: 3 }]);
    expect(view.canvas.dataset.seq).toBe("3");
    expect(view.canvas.dataset.settled).toBe("true");
    expect(view.painted).toBe(1);
  });

  it("acks a frame it cannot decode so the stream keeps flowing", async () => {
    vi.stubGlobal("createImageBitmap", async () => { throw new Error("corrupt"); });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const sent: ClientMessage[] = [];
    const view = new FrameView((m) => sent.push(m));
    view.receive(frame(7), new ArrayBuffer(2));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent).toEqual([{ kind: "ack", seq: 7 }]);
    expect(view.painted).toBe(0);
    expect(warn).toHaveBeenCalled();
  });
});
