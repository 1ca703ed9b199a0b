import { afterEach, describe, expect, it, vi } from "vitest";
import { installKeyboard, isHostShortcut } from "../src/keyboard";

function setup() {
  const root = document.createElement("div");
  const canvas = document.createElement("canvas");
  const prompt = document.createElement("input");
  prompt.type = "text";
  root.append(canvas, prompt);
  document.body.append(root);
  const actions = { undo: vi.fn(), redo: vi.fn() };
  const controller = new AbortController();
  installKeyboard(root, actions, controller.signal);
  // what a Lumino host does: look for a shortcut unless the target sits under data-lm-suppress-shortcuts
  const host = { capture: [] as string[], bubble: [] as string[] };
  const look = (phase: string[]) => (e: Event) => {
    const suppressed = (e.target as Element).closest("[data-lm-suppress-shortcuts]") !== null;
    phase.push(`${(e as KeyboardEvent).key}:${suppressed ? "suppressed" : "seen"}`);
  };
  const onCapture = look(host.capture), onBubble = look(host.bubble);
  document.addEventListener("keydown", onCapture, true); // Notebook 7
  document.addEventListener("keydown", onBubble); // JupyterLab
  const cleanup = () => {
    controller.abort();
    document.removeEventListener("keydown", onCapture, true);
    document.removeEventListener("keydown", onBubble);
  };
  return { root, canvas, prompt, actions, host, cleanup };
}

const press = (target: Element, key: string, init: KeyboardEventInit = {}) =>
  target.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init }));

describe("keyboard", () => {
  afterEach(() => {
    vi.useRealTimers();
    document.body.replaceChildren();
  });

  it("lets Ctrl+S and Cmd+S through to the host, from the canvas and from a text field", () => {
    vi.useFakeTimers();
    const { root, canvas, prompt, host, actions, cleanup } = setup();
    press(canvas, "s", { ctrlKey: true });
    press(prompt, "s", { metaKey: true });
    expect(host.capture).toEqual(["s:seen", "s:seen"]);
    expect(host.bubble).toEqual(["s:seen", "s:seen"]);
    vi.runAllTimers();
    expect(root.getAttribute("data-lm-suppress-shortcuts")).toBe("true"); // back for every other key
    expect(actions.undo).not.toHaveBeenCalled();
    cleanup();
  });

  it("keeps the widget's own keys from the host: Ctrl+Z undoes here, typing stays in the field", () => {
    const { canvas, prompt, host, actions, cleanup } = setup();
    press(canvas, "z", { ctrlKey: true });
    press(canvas, "z", { ctrlKey: true, shiftKey: true });
    press(prompt, "a");
    expect(actions.undo).toHaveBeenCalledTimes(1);
    expect(actions.redo).toHaveBeenCalledTimes(1);
    expect(host.capture).toEqual(["z:suppressed", "z:suppressed", "a:suppressed"]);
    expect(host.bubble).toEqual([]); // stopped in the widget
    cleanup();
  });

  it("knows which keys are the host's", () => {
    const key = (init: KeyboardEventInit) => isHostShortcut(new KeyboardEvent("keydown", init));
    expect(key({ key: "s", ctrlKey: true })).toBe(true);
    expect(key({ key: "S", metaKey: true, shiftKey: true })).toBe(true);
    expect(key({ key: "s" })).toBe(false);
    expect(key({ key: "s", ctrlKey: true, altKey: true })).toBe(false);
    expect(key({ key: "z", ctrlKey: true })).toBe(false);
  });
});
