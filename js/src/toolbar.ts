// The toolbar: tools and brush size (local to the view), undo/redo/clear, play/pause/step, seed, steps,
// guidance and the background photo (synced through the actions the widget passes in).

import { button, el, setValue } from "./dom";
import type { Tool } from "./canvas";
import { GUIDANCE_LIMITS, STEPS_CHOICES } from "./protocol";

export interface ToolbarActions {
  playing(): boolean;
  stopped(): boolean; // no stream runs (stopped, or failed): play must start one
  seed(): number;
  steps(): number;
  guidance(): number;
  undo(): void;
  redo(): void;
  clear(): void;
  togglePlaying(play: boolean): void;
  step(): void;
  setSeed(seed: number): void;
  setSteps(steps: number): void;
  setGuidance(guidance: number): void;
  setPhoto(bytes: ArrayBuffer | null): void; // null removes the photo
  toolChanged(tool: Tool): void;
  refuse(message: string): void; // a value this view cannot send at all (not a number): say why
}

export const TOOLS: readonly Tool[] = ["brush", "eraser", "fill"];

/** The photo formats the kernel decodes, from the file's first bytes (its name and type can say anything). */
export function photoFormat(bytes: Uint8Array): "png" | "jpeg" | "webp" | null {
  const starts = (...sig: number[]) => sig.every((v, i) => bytes[i] === v);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "png";
  if (starts(0xff, 0xd8, 0xff)) return "jpeg";
  if (starts(0x52, 0x49, 0x46, 0x46) && String.fromCharCode(...bytes.subarray(8, 12)) === "WEBP") return "webp";
  return null;
}
export const MAX_BRUSH_SIZE = 64;

export class Toolbar {
  readonly element: HTMLDivElement;
  private toolValue: Tool = "brush";
  private sizeValue = 12;
  private readonly toolButtons: HTMLButtonElement[];
  private readonly playButton: HTMLButtonElement;
  private readonly seedInput: HTMLInputElement;
  private readonly stepsInput: HTMLSelectElement;
  private readonly guidanceInput: HTMLInputElement;

  constructor(private readonly actions: ToolbarActions, signal: AbortSignal) {
    this.toolButtons = TOOLS.map((name) => {
      const b = button(name, `${name} tool`, () => (this.tool = name), signal);
      b.dataset.tool = name;
      return b;
    });
    const sizeInput = el("input", { type: "range", min: "1", max: String(MAX_BRUSH_SIZE), value: String(this.sizeValue),
      title: "brush size" });
    sizeInput.setAttribute("aria-label", "brush size");
    sizeInput.addEventListener("input", () => (this.sizeValue = Number(sizeInput.value)), { signal });
    this.playButton = button("", "play / pause", () => actions.togglePlaying(!this.showsPause()), signal);
    this.seedInput = el("input", { type: "number", title: "seed", min: "0", step: "1", className: "sdw-seed" });
    this.seedInput.setAttribute("aria-label", "seed");
    // Numbers go to the kernel as typed: it refuses an out-of-range one with its reason in the status line
    // and puts the kept value back. Only what is not a number at all is refused here.
    this.seedInput.addEventListener("change", () => {
      const seed = Number(this.seedInput.value);
      if (this.seedInput.value.trim() === "" || !Number.isSafeInteger(seed)) {
        actions.refuse(`seed must be a whole number from 0, got "${this.seedInput.value}"; kept ${actions.seed()}`);
        this.update();
      } else {
        actions.setSeed(seed);
      }
    }, { signal });
    this.stepsInput = el("select", { title: "steps" });
    this.stepsInput.setAttribute("aria-label", "steps");
    for (const n of STEPS_CHOICES) this.stepsInput.append(el("option", { value: String(n), textContent: `${n} step${n === 1 ? "" : "s"}` }));
    this.stepsInput.addEventListener("change", () => actions.setSteps(Number(this.stepsInput.value)), { signal });
    // negative prompts only act with classifier-free guidance, so the control sits in plain view
    const [low, high] = GUIDANCE_LIMITS;
    this.guidanceInput = el("input", { type: "number", min: String(low), max: String(high), step: "0.5",
      title: "guidance scale: above 1, negative prompts steer (one extra batch)" });
    this.guidanceInput.setAttribute("aria-label", "guidance scale");
    this.guidanceInput.addEventListener("change", () => {
      const guidance = Number(this.guidanceInput.value);
      if (this.guidanceInput.value.trim() === "" || !Number.isFinite(guidance)) {
        actions.refuse(`guidance must be a number from ${low} to ${high}, got "${this.guidanceInput.value}"; `
          + `kept ${actions.guidance()}`);
        this.update();
      } else {
        actions.setGuidance(guidance);
      }
    }, { signal });
    const photoInput = el("input", { type: "file", accept: "image/png,image/jpeg,image/webp" });
    photoInput.setAttribute("aria-label", "background photo");
    photoInput.style.display = "none";
    photoInput.addEventListener("change", async () => {
      const file = photoInput.files?.[0];
      photoInput.value = ""; // the same file can be chosen again
      if (!file) return;
      const bytes = await file.arrayBuffer();
      // A file that is no photo never leaves the view: the canvas keeps its photo (or none) and drawing goes on.
      // (The kernel decodes what does go, and refuses a broken photo the same way.)
      if (!photoFormat(new Uint8Array(bytes, 0, Math.min(12, bytes.byteLength)))) {
        actions.refuse(`"${file.name}" is not a PNG, JPEG or WebP photo; the canvas keeps its background`);
        return;
      }
      actions.setPhoto(bytes);
    }, { signal });
    // Groups wrap as wholes, so a narrow output breaks the toolbar between tools, edits, stream and photo controls,
    // never inside one (a seed apart from its box, a lone "no photo").
    const group = (...children: (Node | string)[]) => el("span", { className: "sdw-group" }, ...children);
    this.element = el("div", { className: "sdw-toolbar", role: "toolbar" },
      group(...this.toolButtons, el("label", { className: "sdw-field", title: "brush size" }, "size", sizeInput)),
      group(button("↶", "undo (Ctrl+Z)", () => actions.undo(), signal),
        button("↷", "redo (Ctrl+Shift+Z)", () => actions.redo(), signal),
        button("clear", "clear the canvas", () => actions.clear(), signal)),
      group(this.playButton, button("step", "one step while paused", () => actions.step(), signal)),
      group(el("label", { className: "sdw-field", title: "seed" }, "seed", this.seedInput),
        button("new seed", "a random seed", () => actions.setSeed(Math.floor(Math.random() * 2 ** 31)), signal)),
      group(this.stepsInput, el("label", { className: "sdw-field", title: this.guidanceInput.title }, "guidance",
        this.guidanceInput)),
      group(photoInput, button("photo…", "inpaint into an uploaded photo", () => photoInput.click(), signal),
        button("no photo", "remove the background photo", () => actions.setPhoto(null), signal)));
    this.tool = "brush";
    this.update();
  }

  get tool(): Tool {
    return this.toolValue;
  }

  set tool(tool: Tool) {
    this.toolValue = tool;
    for (const b of this.toolButtons) {
      const active = b.dataset.tool === tool;
      b.classList.toggle("sdw-active", active);
      b.setAttribute("aria-pressed", String(active));
    }
    this.actions.toolChanged(tool);
  }

  /** A stopped canvas offers play even if its `playing` trait still says true. */
  private showsPause(): boolean {
    return this.actions.playing() && !this.actions.stopped();
  }

  get size(): number {
    return this.sizeValue;
  }

  /** Show the synced values (play state, seed, steps, guidance). */
  update(): void {
    this.playButton.textContent = this.showsPause() ? "❚❚ pause" : "▶ play";
    setValue(this.seedInput, String(this.actions.seed()));
    setValue(this.stepsInput, String(this.actions.steps()));
    setValue(this.guidanceInput, String(this.actions.guidance()));
  }
}
