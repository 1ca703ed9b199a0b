import { describe, expect, it } from "vitest";
import { parseHex, pointToPixel, renderLabels, unionRect } from "../src/canvas";
import { LabelMap } from "../src/labels";
import { isServerMessage, newBrush, PROTOCOL_VERSION } from "../src/protocol";

describe("protocol", () => {
  it("recognises server messages and rejects anything else", () => {
    expect(isServerMessage({ kind: "frame", epoch: 1, seq: 1, mime: "image/jpeg", width: 8, height: 8, settled: false, tick: 1, step: 4 })).toBe(true);
    expect(isServerMessage({ kind: "frame", epoch: 1, seq: 1, mime: "image/jpeg", width: 8, height: 8 })).toBe(false);
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

describe("drawing surface geometry", () => {
  it("renders only a rect of the label map when asked (a stroke repaints what it touched)", () => {
    const map = new LabelMap(4, 3, new Uint8Array([0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 2, 0]));
    const rgba = renderLabels(map, ["#ff0000", "#00ff00"], 255, { x: 1, y: 1, width: 3, height: 2 });
    expect(rgba.length).toBe(3 * 2 * 4);
    expect([...rgba.slice(0, 4)]).toEqual([255, 0, 0, 255]); // (1, 1)
    expect([...rgba.slice(8, 12)]).toEqual([0, 0, 0, 0]); // (3, 1)
    expect([...rgba.slice(16, 20)]).toEqual([0, 255, 0, 255]); // (2, 2)
    expect(unionRect(null, { x: -2, y: 1, width: 4, height: 1 }, 4, 3)).toEqual({ x: 0, y: 1, width: 2, height: 1 });
    expect(unionRect({ x: 0, y: 0, width: 1, height: 1 }, { x: 3, y: 2, width: 5, height: 5 }, 4, 3))
      .toEqual({ x: 0, y: 0, width: 4, height: 3 });
  });

  it("maps a pointer from the scaled display to canvas pixels, past the border", () => {
    // a 512-pixel canvas shown 256 px wide with a 1 px border at (100, 50)
    const rect = { left: 100, top: 50, width: 258, height: 258 };
    const box = { clientLeft: 1, clientTop: 1, clientWidth: 256, clientHeight: 256 };
    expect(pointToPixel(rect, box, { width: 512, height: 512 }, { clientX: 101, clientY: 51 })).toEqual([0, 0]);
    expect(pointToPixel(rect, box, { width: 512, height: 512 }, { clientX: 229, clientY: 179 })).toEqual([256, 256]);
  });
});
