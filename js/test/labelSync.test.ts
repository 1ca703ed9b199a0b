import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LabelSync } from "../src/labelSync";

describe("LabelSync cadence", () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  /** A sync whose compression echoes the map's first byte, so each publish says which map it carried. */
  function harness() {
    let map = new Uint8Array([0]);
    const published: number[] = [];
    const sync = new LabelSync(() => map, (view) => published.push(view.getUint8(0)),
      { interval: 100, compress: async (data) => data.slice() });
    const paint = (value: number, final = false) => { map = new Uint8Array([value]); sync.changed(final); };
    return { sync, published, paint };
  }

  it("syncs the first change at once, then at most every interval ms, and a stroke end at once", async () => {
    const { published, paint } = harness();
    paint(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(published).toEqual([1]);
    for (let i = 2; i <= 9; i++) { // a stroke: a change every 20 ms
      await vi.advanceTimersByTimeAsync(20);
      paint(i);
    }
    // t = 160 ms: one timed sync at 100 ms carried the map of then (5), and later changes did not push it back
    expect(published).toEqual([1, 5]);
    await vi.advanceTimersByTimeAsync(40);
    expect(published).toEqual([1, 5, 9]); // the next one at 200 ms, with the newest map
    paint(10, true); // the stroke ends: at once
    await vi.advanceTimersByTimeAsync(0);
    expect(published).toEqual([1, 5, 9, 10]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(published).toEqual([1, 5, 9, 10]); // nothing pending
  });

  it("never publishes a map overtaken by a newer one, recognises its own echo, and stops on dispose", async () => {
    let release: (() => void) | null = null;
    const published: DataView[] = [];
    let map = new Uint8Array([1]);
    const sync = new LabelSync(() => map, (view) => published.push(view), {
      interval: 100,
      compress: (data) => new Promise((resolve) => {
        const copy = data.slice();
        if (copy[0] === 1) release = () => resolve(copy); // the first compression is slow
        else resolve(copy);
      }),
    });
    sync.changed(true);
    map = new Uint8Array([2]);
    sync.changed(true);
    await vi.advanceTimersByTimeAsync(0);
    release!();
    await vi.advanceTimersByTimeAsync(0);
    expect(published.map((v) => v.getUint8(0))).toEqual([2]);
    expect(sync.isOwn(published[0])).toBe(true);
    expect(sync.isOwn(new DataView(new ArrayBuffer(1)))).toBe(false);
    map = new Uint8Array([3]);
    sync.changed(false); // within the interval: waits for the timer
    sync.dispose();
    await vi.advanceTimersByTimeAsync(500);
    expect(published).toHaveLength(1);
  });
});
