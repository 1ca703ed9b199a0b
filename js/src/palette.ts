// The palette: a background row and one row per brush. Rows are built once and updated in place when
// the model changes (each row's listeners live as long as the row, on its own AbortController), so a
// re-render neither leaks listeners nor clobbers a field the user is typing in.

import { button, el, setValue } from "./dom";
import { BRUSH_LIMITS, MAX_BRUSHES, MAX_TEXT_LENGTH, type BackgroundState, type Brush, type BrushNumberField } from "./protocol";

export interface PaletteActions {
  brushes(): Brush[];
  background(): BackgroundState;
  guidance(): number;
  selected(): number; // label of the brush painted with (1-based)
  select(label: number): void;
  editBrush(index: number, change: Partial<Brush>): void;
  editBackground(change: Partial<BackgroundState>): void;
  move(index: number, delta: number): void; // delta -1: up the list (under), +1: down (over)
  remove(index: number): void;
  add(): void;
}

/** The negative prompt's placeholder: negative prompts only act with classifier-free guidance. */
export function negativePlaceholder(guidance: number): string {
  return guidance > 1 ? "negative prompt" : "negative (guidance > 1)";
}

/** A text field committed on change (also on Enter: see the widget root's keydown handler). */
function textField(className: string, placeholder: string, label: string, onCommit: (value: string) => void,
  signal: AbortSignal): HTMLInputElement {
  const input = el("input", { type: "text", className, placeholder, maxLength: MAX_TEXT_LENGTH });
  input.setAttribute("aria-label", label);
  input.addEventListener("change", () => onCommit(input.value), { signal });
  return input;
}

function sizeToPlaceholder(input: HTMLInputElement): void {
  // a placeholder must never be cut off: the field is at least as wide as its placeholder (1ch ≈ a character)
  input.style.minWidth = `${input.placeholder.length + 2}ch`;
}

// field, accessible name, short visible label (a row must fit one line of a notebook), step
const SLIDERS: [BrushNumberField, string, string, number][] = [
  ["prompt_strength", "prompt strength", "strength", 0.01],
  ["mask_strength", "mask strength", "mask", 0.01],
  ["mask_blur", "mask blur", "blur", 1],
];

export class BrushRow {
  readonly element = el("div", { className: "sdw-brush" });
  private readonly controller = new AbortController();
  private readonly pick: HTMLInputElement;
  private readonly color: HTMLInputElement;
  private readonly name: HTMLInputElement;
  private readonly prompt: HTMLInputElement;
  private readonly negative: HTMLInputElement;
  private readonly visible: HTMLInputElement;
  private readonly sliders = new Map<BrushNumberField, HTMLInputElement>();

  /** `index` is read when an event fires, so a row can be reused for another brush. */
  constructor(public index: number, actions: PaletteActions, group: string) {
    const signal = this.controller.signal;
    const edit = (change: Partial<Brush>) => actions.editBrush(this.index, change);
    this.pick = el("input", { type: "radio", name: group, title: "paint with this brush" });
    this.pick.addEventListener("change", () => actions.select(this.index + 1), { signal });
    this.color = el("input", { type: "color", title: "brush colour" });
    this.color.addEventListener("change", () => edit({ color: this.color.value }), { signal });
    this.name = textField("sdw-name", "name", "brush name", (name) => edit({ name }), signal);
    this.prompt = textField("sdw-prompt", "prompt", "brush prompt", (prompt) => edit({ prompt }), signal);
    this.negative = textField("sdw-negative", negativePlaceholder(actions.guidance()), "brush negative prompt",
      (negative_prompt) => edit({ negative_prompt }), signal);
    this.visible = el("input", { type: "checkbox", title: "visible" });
    this.visible.addEventListener("change", () => edit({ visible: this.visible.checked }), { signal });
    for (const input of [this.pick, this.color, this.visible]) input.setAttribute("aria-label", input.title);
    const fields = SLIDERS.map(([key, label, short, step]) => {
      const [min, max] = BRUSH_LIMITS[key];
      const input = el("input", { type: "range", min: String(min), max: String(max), step: String(step), title: label });
      input.setAttribute("aria-label", label);
      input.addEventListener("change", () => edit({ [key]: Number(input.value) }), { signal });
      this.sliders.set(key, input);
      return el("label", { className: "sdw-field", title: label }, short, input);
    });
    // Two groups that wrap as wholes: the texts take the spare width; at a narrow output the knobs and the row's
    // buttons move to a second line together (never a lone ✕), and the prompts keep a whole line to show in.
    this.element.append(
      el("div", { className: "sdw-brush-texts" }, this.pick, this.color, this.name, this.prompt, this.negative),
      el("div", { className: "sdw-brush-knobs" }, ...fields, this.visible,
        button("↑", "move up: drawn under the brushes below it", () => actions.move(this.index, -1), signal),
        button("↓", "move down: drawn over the brushes above it", () => actions.move(this.index, 1), signal),
        button("✕", "remove brush", () => actions.remove(this.index), signal)));
  }

  update(brush: Brush, selected: boolean, guidance: number): void {
    const label = this.index + 1;
    this.element.dataset.label = String(label);
    this.element.classList.toggle("sdw-selected", selected);
    this.element.classList.toggle("sdw-no-prompt", !brush.prompt.trim());
    this.pick.checked = selected;
    setValue(this.color, brush.color);
    setValue(this.name, brush.name);
    setValue(this.prompt, brush.prompt);
    setValue(this.negative, brush.negative_prompt);
    this.negative.placeholder = negativePlaceholder(guidance);
    this.negative.title = guidance > 1 ? "" : "negative prompts only act with guidance above 1 (toolbar)";
    for (const input of [this.name, this.prompt, this.negative]) sizeToPlaceholder(input);
    this.visible.checked = brush.visible;
    for (const [key, input] of this.sliders) setValue(input, String(brush[key]));
  }

  dispose(): void {
    this.controller.abort();
    this.element.remove();
  }
}

export class Palette {
  readonly element = el("div", { className: "sdw-palette" });
  private readonly rows: BrushRow[] = [];
  private readonly backgroundRow: HTMLDivElement;
  private readonly backgroundPrompt: HTMLInputElement;
  private readonly backgroundNegative: HTMLInputElement;
  private readonly addButton: HTMLButtonElement;
  private readonly group = `sdw-brush-${Math.random().toString(36).slice(2)}`; // radios of this view only

  constructor(private readonly actions: PaletteActions, signal: AbortSignal) {
    this.backgroundPrompt = textField("sdw-prompt", "background prompt", "background prompt",
      (prompt) => actions.editBackground({ prompt }), signal);
    this.backgroundNegative = textField("sdw-negative", "negative prompt (all regions)", "negative prompt for all regions",
      (negative_prompt) => actions.editBackground({ negative_prompt }), signal);
    this.backgroundRow = el("div", { className: "sdw-brush sdw-background" }, el("div", { className: "sdw-brush-texts" },
      el("strong", { textContent: "background" }), this.backgroundPrompt, this.backgroundNegative));
    this.addButton = button("+ brush", "add a brush", () => actions.add(), signal);
    this.addButton.classList.add("sdw-add");
    this.element.append(this.backgroundRow, this.addButton);
    signal.addEventListener("abort", () => this.rows.splice(0).forEach((row) => row.dispose()));
  }

  /** Bring every row in line with the model: reuse rows, add or drop the difference. */
  update(): void {
    const brushes = this.actions.brushes();
    const guidance = this.actions.guidance();
    const background = this.actions.background();
    setValue(this.backgroundPrompt, background.prompt);
    setValue(this.backgroundNegative, background.negative_prompt);
    this.backgroundNegative.placeholder = guidance > 1 ? "negative prompt (all regions)" : "negative (guidance > 1)";
    for (const input of [this.backgroundPrompt, this.backgroundNegative]) sizeToPlaceholder(input);
    while (this.rows.length > brushes.length) this.rows.pop()?.dispose();
    while (this.rows.length < brushes.length) {
      const row = new BrushRow(this.rows.length, this.actions, this.group);
      this.rows.push(row);
      this.element.insertBefore(row.element, this.addButton);
    }
    brushes.forEach((brush, index) => this.rows[index].update(brush, index + 1 === this.actions.selected(), guidance));
    this.addButton.disabled = brushes.length >= MAX_BRUSHES;
    this.addButton.title = brushes.length >= MAX_BRUSHES ? `at most ${MAX_BRUSHES} brushes` : "add a brush";
    this.addButton.setAttribute("aria-label", this.addButton.title);
  }

  row(index: number): BrushRow | undefined {
    return this.rows[index];
  }
}
