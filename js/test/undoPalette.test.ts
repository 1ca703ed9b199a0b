// Undo and redo of palette edits that renumber the label map (remove a brush, reorder brushes): the brushes
// and the map come back together, so a stroke never returns painted as another brush.
import { inflateSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import widgetModule from "../src/widget";
import { fakeModel } from "./fakeModel";

async function mount() {
  const fake = fakeModel();
  const host = document.createElement("div");
  document.body.append(host);
  const cleanup = widgetModule.render({ model: fake.model, el: host });
  const $ = <T extends Element = HTMLElement>(selector: string) => host.querySelector<T>(selector)!;
  await vi.advanceTimersByTimeAsync(1); // the view has read the (empty) label map it starts from
  return { ...fake, host, cleanup, $ };
}

function stroke(canvas: HTMLCanvasElement, y: number, x0: number, x1: number) {
  canvas.dispatchEvent(new PointerEvent("pointerdown", { clientX: x0, clientY: y, button: 0, bubbles: true }));
  canvas.dispatchEvent(new PointerEvent("pointermove", { clientX: x1, clientY: y, bubbles: true }));
  canvas.dispatchEvent(new PointerEvent("pointerup", { clientX: x1, clientY: y, bubbles: true }));
}

const key = (root: HTMLElement, k: string, shift = false) =>
  root.dispatchEvent(new KeyboardEvent("keydown", { key: k, ctrlKey: true, shiftKey: shift, bubbles: true, cancelable: true }));

describe("undo of palette edits", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] }));
  afterEach(() => {
    vi.useRealTimers();
    document.body.replaceChildren();
  });

  /** The label under the stroke (row 4, x 5) in the newest map the view synced, after `count` syncs. */
  async function syncedLabel(saved: { labels?: DataView }[], count: number): Promise<number> {
    await vi.waitFor(() => expect(saved.filter((s) => s.labels).length).toBe(count));
    const last = saved.filter((s) => s.labels).at(-1)!.labels!;
    return inflateSync(new Uint8Array(last.buffer, last.byteOffset, last.byteLength))[4 * 16 + 5];
  }

  it("undo after removing a brush brings the brush back with its strokes; redo removes it again", async () => {
    const { $, state, saved } = await mount();
    const root = $(".sdw-root");
    $<HTMLInputElement>(".sdw-brush[data-label='2'] input[type=radio]").dispatchEvent(new Event("change"));
    stroke($<HTMLCanvasElement>("canvas.sdw-draw"), 4, 1, 10);
    expect(await syncedLabel(saved, 1)).toBe(2);
    $<HTMLButtonElement>(".sdw-brush[data-label='2'] button[aria-label='remove brush']").click();
    expect(state.brushes.map((b) => b.name)).toEqual(["bricks"]);
    expect(await syncedLabel(saved, 2)).toBe(0);
    key(root, "z");
    expect(state.brushes.map((b) => b.name)).toEqual(["bricks", "grass"]); // the removed brush is back
    expect(await syncedLabel(saved, 3)).toBe(2); // and its stroke is its own again, not another brush's
    expect($<HTMLInputElement>(".sdw-brush[data-label='2'] input[type=radio]").checked).toBe(true);
    const order = saved.flatMap((s) => Object.keys(s)).filter((k) => k === "brushes" || k === "labels");
    expect(order.slice(-2)).toEqual(["brushes", "labels"]); // the kernel checks the map against the brushes
    key(root, "z", true);
    expect(state.brushes.map((b) => b.name)).toEqual(["bricks"]);
    expect(await syncedLabel(saved, 4)).toBe(0);
  });

  it("undo after moving a brush puts the order back and the stroke stays with its brush", async () => {
    const { $, state, saved } = await mount();
    const root = $(".sdw-root");
    stroke($<HTMLCanvasElement>("canvas.sdw-draw"), 4, 1, 10); // brush 1, "bricks"
    expect(await syncedLabel(saved, 1)).toBe(1);
    $<HTMLButtonElement>(".sdw-brush[data-label='1'] button[aria-label^='move down']").click();
    expect(state.brushes.map((b) => b.name)).toEqual(["grass", "bricks"]);
    expect(await syncedLabel(saved, 2)).toBe(2); // still bricks
    key(root, "z");
    expect(state.brushes.map((b) => b.name)).toEqual(["bricks", "grass"]);
    expect(await syncedLabel(saved, 3)).toBe(1); // still bricks
    expect($<HTMLInputElement>(".sdw-brush[data-label='1'] input[type=radio]").checked).toBe(true);
    key(root, "z"); // then the stroke itself; the palette stays as it is
    expect(await syncedLabel(saved, 4)).toBe(0);
    expect(state.brushes.map((b) => b.name)).toEqual(["bricks", "grass"]);
  });

  it("undoing a stroke does not undo a prompt typed after it", async () => {
    const { $, state, saved } = await mount();
    stroke($<HTMLCanvasElement>("canvas.sdw-draw"), 4, 1, 10);
    expect(await syncedLabel(saved, 1)).toBe(1);
    const prompt = $<HTMLInputElement>(".sdw-brush[data-label='1'] input.sdw-prompt");
    prompt.value = "blue water";
    prompt.dispatchEvent(new Event("change"));
    key($(".sdw-root"), "z");
    expect(await syncedLabel(saved, 2)).toBe(0);
    expect(state.brushes[0].prompt).toBe("blue water");
  });
});
