import { describe, expect, it, vi } from "vitest";
import { FrameView } from "../src/frames";
import type { ClientMessage, FrameMessage } from "../src/protocol";

const frame = (seq: number): FrameMessage => ({ kind: "frame", seq, mime: "image/jpeg", width: 4, height: 4, settled: false, tick: seq, step: 4 });

describe("FrameView", () => {
  it("paints only the newest frame per animation frame and acks it (which acks the dropped ones too)", async () => {
    const sent: ClientMessage[] = [];
    let urls = 0;
    const revoked: string[] = [];
    vi.spyOn(URL, "createObjectURL").mockImplementation(() => `blob:${++urls}`);
    vi.spyOn(URL, "revokeObjectURL").mockImplementation((url) => void revoked.push(url));
    const view = new FrameView((m) => sent.push(m));
    view.img.decode = () => Promise.resolve();
    view.receive(frame(1), new ArrayBuffer(3));
    view.receive(frame(2), new ArrayBuffer(3));
    view.receive(frame(3), new DataView(new ArrayBuffer(3)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent).toEqual([{ kind: "ack", seq: 3 }]);
    expect(view.img.dataset.seq).toBe("3");
    expect(revoked).toEqual(["blob:1", "blob:2"]);
    view.dispose();
    expect(revoked).toContain("blob:3");
  });
});
