import { describe, expect, it, vi } from "vitest";
import { negativePlaceholder, Palette, type PaletteActions } from "../src/palette";
import { BRUSH_DEFAULTS, MAX_BRUSHES, type BackgroundState, type Brush } from "../src/protocol";

function setup(brushes: Brush[]) {
  let selected = 1;
  let guidance = 1;
  const background: BackgroundState = { prompt: "sky", negative_prompt: "" };
  const actions: PaletteActions = {
    brushes: () => brushes, background: () => background, guidance: () => guidance, selected: () => selected,
    select: vi.fn((label: number) => { selected = label; }), editBrush: vi.fn(), editBackground: vi.fn(),
    move: vi.fn(), remove: vi.fn(), add: vi.fn(),
  };
  const controller = new AbortController();
  const palette = new Palette(actions, controller.signal);
  palette.update();
  return { palette, actions, controller, setBrushes: (b: Brush[]) => { brushes = b; },
    setGuidance: (g: number) => { guidance = g; }, rows: () => [...palette.element.querySelectorAll<HTMLElement>(".sdw-brush[data-label]")] };
}

const brush = (name: string, prompt = name): Brush => ({ ...BRUSH_DEFAULTS, name, prompt });
const change = (input: Element | null | undefined, value?: string) => {
  if (value !== undefined) (input as HTMLInputElement).value = value;
  input?.dispatchEvent(new Event("change"));
};

describe("Palette", () => {
  it("updates rows in place: the same elements, one listener each, however often the model changes", () => {
    const { palette, actions, setBrushes, rows } = setup([brush("a"), brush("b")]);
    const [first] = rows();
    for (let i = 0; i < 5; i++) palette.update();
    setBrushes([brush("a", "red bricks"), brush("b")]);
    palette.update();
    expect(rows()[0]).toBe(first);
    expect(first.querySelector<HTMLInputElement>("input[aria-label='brush prompt']")?.value).toBe("red bricks");
    change(first.querySelector("input[aria-label='brush prompt']"), "blue water");
    expect(actions.editBrush).toHaveBeenCalledTimes(1);
    expect(actions.editBrush).toHaveBeenCalledWith(0, { prompt: "blue water" });
    change(rows()[1].querySelector("input[type=range][aria-label='mask blur']"), "8");
    expect(actions.editBrush).toHaveBeenLastCalledWith(1, { mask_blur: 8 });
  });

  it("drops the rows of removed brushes with their listeners, and reuses rows for the rest", () => {
    const { palette, actions, setBrushes, rows } = setup([brush("a"), brush("b"), brush("c")]);
    const removed = rows()[2];
    const removedPrompt = removed.querySelector("input[aria-label='brush prompt']");
    setBrushes([brush("a"), brush("c")]);
    palette.update();
    expect(rows()).toHaveLength(2);
    expect(rows()[1].querySelector<HTMLInputElement>("input[aria-label='brush name']")?.value).toBe("c");
    change(removedPrompt, "x"); // the detached row's listener is gone
    expect(actions.editBrush).not.toHaveBeenCalled();
    rows()[1].querySelector<HTMLButtonElement>("button[aria-label^='remove']")?.click();
    expect(actions.remove).toHaveBeenCalledWith(1);
  });

  it("labels the arrows the right way round: up is under, down is over", () => {
    const { actions, rows } = setup([brush("a"), brush("b")]);
    const [up, down] = [...rows()[1].querySelectorAll("button")];
    expect(up.textContent).toBe("↑");
    expect(up.title).toMatch(/^move up/);
    expect(up.title).toContain("under");
    expect(down.textContent).toBe("↓");
    expect(down.title).toMatch(/^move down/);
    expect(down.title).toContain("over");
    up.click();
    down.click();
    expect(actions.move).toHaveBeenNthCalledWith(1, 1, -1);
    expect(actions.move).toHaveBeenNthCalledWith(2, 1, 1);
  });

  it("labels every field, marks the selected brush and one without a prompt", () => {
    const { palette, actions, rows, setGuidance } = setup([brush("a"), brush("b", "")]);
    for (const input of palette.element.querySelectorAll("input")) {
      expect(input.getAttribute("aria-label") || input.closest("label")?.textContent, input.outerHTML).toBeTruthy();
    }
    expect(rows()[0].classList.contains("sdw-selected")).toBe(true);
    expect(rows()[1].classList.contains("sdw-no-prompt")).toBe(true);
    change(rows()[1].querySelector("input[type=radio]"));
    expect(actions.select).toHaveBeenCalledWith(2);
    const negative = () => rows()[0].querySelector<HTMLInputElement>("input[aria-label='brush negative prompt']")!;
    expect(negative().placeholder).toBe(negativePlaceholder(1));
    setGuidance(3);
    palette.update();
    expect(negative().placeholder).toBe("negative prompt");
    expect(negative().style.minWidth).toBe(`${"negative prompt".length + 2}ch`);
  });

  it("disables + brush at the limit, and aborting the view's signal disposes every row", () => {
    const full = Array.from({ length: MAX_BRUSHES }, (_, i) => brush(`b${i}`));
    const { palette, actions, controller, rows } = setup(full);
    const add = palette.element.querySelector<HTMLButtonElement>("button.sdw-add")!;
    expect(add.disabled).toBe(true);
    const prompt = rows()[0].querySelector("input[aria-label='brush prompt']");
    controller.abort();
    change(prompt, "x");
    expect(actions.editBrush).not.toHaveBeenCalled();
  });
});
