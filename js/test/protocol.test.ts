import { describe, expect, it } from "vitest";
import { renderLabels, parseHex } from "../src/canvas";
import { LabelMap } from "../src/labels";
import { isServerMessage, newBrush, PROTOCOL_VERSION } from "../src/protocol";

describe("protocol", () => {
  it("recognises server messages and rejects anything else", () => {
    expect(isServerMessage({ kind: "frame", epoch: 1, seq: 1, mime: "image/jpeg", width: 8, height: 8 })).toBe(true);
    expect(isServerMessage({ kind: "error", message: "boom" })).toBe(true);
    for (const bad of [null, 3, "frame", {}, { kind: "frame" }, { kind: "frame", seq: "1", mime: "x" }, { kind: "nope" }]) {
      expect(isServerMessage(bad)).toBe(false);
    }
    expect(PROTOCOL_VERSION).toBe(2);
  });

  it("gives new brushes distinct colours and neutral settings", () => {
    const a = newBrush(0), b = newBrush(1);
    expect(a.color).not.toBe(b.color);
    expect(a).toMatchObject({ prompt: "", prompt_strength: 1, mask_strength: 1, mask_blur: 0, visible: true });
  });
});

describe("renderLabels", () => {
  it("colours each label with its brush and leaves the background and hidden brushes clear", () => {
    const map = new LabelMap(3, 1, new Uint8Array([0, 1, 2]));
    const rgba = renderLabels(map, ["#ff0000", null], 255);
    expect([...rgba.slice(0, 4)]).toEqual([0, 0, 0, 0]);
    expect([...rgba.slice(4, 8)]).toEqual([255, 0, 0, 255]);
    expect([...rgba.slice(8, 12)]).toEqual([0, 0, 0, 0]);
    expect(parseHex("#0f0")).toEqual([0, 255, 0]);
  });
});
