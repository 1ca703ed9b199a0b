import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { compressLabels, decompressLabels, LabelMap, UndoStack } from "../src/labels";
import { BRUSH_DEFAULTS } from "../src/protocol";

describe("LabelMap", () => {
  it("paints discs and gap-free lines", () => {
    const map = new LabelMap(32, 16);
    expect(map.disc(4, 4, 2, 1)).toBe(true);
    expect(map.get(4, 4)).toBe(1);
    expect(map.get(10, 10)).toBe(0);
    map.line(0.5, 8.5, 31.5, 8.5, 1, 2);
    for (let x = 0; x < 32; x++) expect(map.get(x, 8)).toBe(2);
    expect(map.disc(4, 4, 2, 1)).toBe(false); // nothing changed
  });

  it("flood-fills a connected area only", () => {
    const map = new LabelMap(8, 8);
    for (let y = 0; y < 8; y++) map.data[y * 8 + 4] = 1; // a wall at x = 4
    expect(map.fill(1, 1, 2)).toBe(true);
    expect(map.count(2)).toBe(32);
    expect(map.get(6, 6)).toBe(0);
    expect(map.fill(1, 1, 2)).toBe(false);
  });

  it("removes and swaps labels when brushes are removed or reordered", () => {
    const map = new LabelMap(3, 1, new Uint8Array([1, 2, 3]));
    map.swapLabels(1, 3);
    expect([...map.data]).toEqual([3, 2, 1]);
    map.removeLabel(2);
    expect([...map.data]).toEqual([2, 0, 1]);
  });

  it("rejects data of the wrong size", () => {
    expect(() => new LabelMap(4, 4, new Uint8Array(3))).toThrow(/needs 16 bytes/);
  });
});

describe("UndoStack", () => {
  const map = (v: number) => ({ labels: new Uint8Array([v]) });
  const values = (s: { labels: Uint8Array } | null) => (s ? [...s.labels] : null);

  it("undoes and redoes whole snapshots and forgets redo after a new edit", () => {
    const stack = new UndoStack(2);
    stack.push(map(0));
    stack.push(map(1));
    expect(values(stack.undo(map(2)))).toEqual([1]);
    expect(values(stack.redo(map(1)))).toEqual([2]);
    stack.undo(map(2));
    stack.push(map(1));
    expect(stack.canRedo).toBe(false);
    stack.push(map(2)); // limit 2: the oldest snapshot is dropped
    stack.undo(map(2));
    stack.undo(map(2));
    expect(stack.undo(map(2))).toBeNull();
  });

  it("brings a palette edit's brushes back with its map, and a stroke's step leaves the palette alone", () => {
    const stack = new UndoStack();
    const a = { ...BRUSH_DEFAULTS, name: "a" }, b = { ...BRUSH_DEFAULTS, name: "b" };
    stack.push(map(1)); // a stroke
    const palette = { brushes: [a, b], selected: 2 };
    const before = { labels: new Uint8Array([2]), palette };
    stack.push(before); // remove brush 1: label 2 becomes 1
    palette.brushes[0].name = "changed later"; // the step holds its own copy
    const current = { labels: new Uint8Array([1]), palette: { brushes: [b], selected: 1 } };
    const undone = stack.undo(current)!;
    expect(values(undone)).toEqual([2]);
    expect(undone.palette?.brushes.map((x) => x.name)).toEqual(["a", "b"]);
    expect(undone.palette?.selected).toBe(2);
    const redone = stack.redo(undone)!;
    expect(redone.palette?.brushes.map((x) => x.name)).toEqual(["b"]); // the redo brings the removal back
    stack.undo(current);
    const stroke = stack.undo({ labels: new Uint8Array([2]), palette })!;
    expect(values(stroke)).toEqual([1]);
    expect(stroke.palette).toBeUndefined();
    expect(stack.redo(stroke)!.palette).toBeUndefined(); // nor does redoing a stroke touch the palette
  });
});

describe("label compression", () => {
  it("produces zlib data that Python's zlib.decompress reads, and round-trips", async () => {
    const map = new LabelMap(64, 32);
    map.disc(20, 10, 6, 3);
    const compressed = await compressLabels(map.data);
    expect(compressed.length).toBeLessThan(map.data.length / 4);
    expect(new Uint8Array(inflateSync(compressed))).toEqual(map.data); // zlib format, as Python expects
    const back = await decompressLabels(compressed, 64, 32);
    expect(back.data).toEqual(map.data);
    expect((await decompressLabels(new Uint8Array(), 4, 4)).data).toEqual(new Uint8Array(16));
  });
});
