import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { compressLabels, decompressLabels, LabelMap, UndoStack } from "../src/labels";

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
  it("undoes and redoes whole snapshots and forgets redo after a new edit", () => {
    const stack = new UndoStack(2);
    const a = new Uint8Array([0]), b = new Uint8Array([1]), c = new Uint8Array([2]);
    stack.push(a);
    stack.push(b);
    expect([...stack.undo(c)!]).toEqual([1]);
    expect([...stack.redo(b)!]).toEqual([2]);
    stack.undo(c);
    stack.push(b);
    expect(stack.canRedo).toBe(false);
    stack.push(c); // limit 2: the oldest snapshot is dropped
    stack.undo(c);
    stack.undo(c);
    expect(stack.undo(c)).toBeNull();
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
