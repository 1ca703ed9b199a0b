import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as widgetModule from "../src/widget";
import { noPromptWarning, PROTOCOL_VERSION } from "../src/protocol";
import { CONNECTING_TEXT, DISCONNECTED_TEXT, HEARTBEAT_MS, KERNEL_CHECK_MS, kernelGone, WELCOME_TIMEOUT_MS } from "../src/status";
import { fakeModel } from "./fakeModel";

const widget = widgetModule.default;

function mount() {
  const fake = fakeModel();
  const host = document.createElement("div");
  document.body.append(host);
  const cleanup = widget.render({ model: fake.model, el: host });
  const $ = <T extends Element = HTMLElement>(selector: string) => host.querySelector<T>(selector)!;
  return { ...fake, host, cleanup, $ };
}

function stroke(canvas: HTMLCanvasElement, y: number, x0: number, x1: number) {
  canvas.dispatchEvent(new PointerEvent("pointerdown", { clientX: x0, clientY: y, button: 0, bubbles: true }));
  canvas.dispatchEvent(new PointerEvent("pointermove", { clientX: x1, clientY: y, bubbles: true }));
  canvas.dispatchEvent(new PointerEvent("pointerup", { clientX: x1, clientY: y, bubbles: true }));
}

describe("widget", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] }));
  afterEach(() => {
    vi.useRealTimers();
    document.body.replaceChildren();
  });

  it("exports only default { render } (anywidget warns about a named render export)", () => {
    expect(Object.keys(widgetModule)).toEqual(["default"]);
    expect(Object.keys(widget)).toEqual(["render"]);
  });

  it("says hello, shows connecting until the welcome and never shows saved status as live", () => {
    const { sent, $, kernel } = mount();
    expect(sent).toContainEqual({ kind: "hello", version: PROTOCOL_VERSION });
    expect($(".sdw-status-text").textContent).toBe(CONNECTING_TEXT);
    vi.advanceTimersByTime(WELCOME_TIMEOUT_MS);
    expect($(".sdw-status-text").textContent).toBe(DISCONNECTED_TEXT); // the saved "idle" is not shown
    kernel.message({ kind: "welcome", version: PROTOCOL_VERSION, epoch: 3 });
    expect($(".sdw-status-text").textContent).toBe("idle · 0.0 frames/s · tick 3");
  });

  it("a closed comm that refuses to send or save never throws into the page; the status says disconnected", () => {
    const { model, $, kernel } = mount();
    kernel.message({ kind: "welcome", version: PROTOCOL_VERSION, epoch: 3 });
    const refuse = () => { throw new Error("Cannot send"); };
    (model as unknown as { send: () => void }).send = refuse;
    (model as unknown as { save_changes: () => void }).save_changes = refuse;
    const stepButton = [...$("div.sdw-toolbar").querySelectorAll("button")].find((b) => b.textContent === "step");
    expect(() => stepButton!.click()).not.toThrow(); // a command into the closed comm
    expect($(".sdw-status-text").textContent).toBe(DISCONNECTED_TEXT);
    kernel.message({ kind: "welcome", version: PROTOCOL_VERSION, epoch: 3 });
    expect($(".sdw-status").dataset.connection).toBe("live");
    const seed = $<HTMLInputElement>("input[aria-label='seed']");
    seed.value = "7";
    expect(() => seed.dispatchEvent(new Event("change"))).not.toThrow(); // a trait change into the closed comm
    expect($(".sdw-status-text").textContent).toBe(DISCONNECTED_TEXT);
  });

  it("sends typed seed and guidance numbers as they are (the kernel refuses with a reason) and refuses non-numbers", () => {
    const { $, saved } = mount();
    const seed = $<HTMLInputElement>("input[aria-label='seed']");
    seed.value = "-1";
    seed.dispatchEvent(new Event("change"));
    expect(saved.at(-1)).toEqual({ seed: -1 }); // not silently clamped to 0: the kernel says why it refuses
    seed.value = "1.5";
    seed.dispatchEvent(new Event("change"));
    expect(saved.at(-1)).toEqual({ seed: -1 });
    expect($(".sdw-error").textContent).toContain("seed must be a whole number");
    const guidance = $<HTMLInputElement>("input[aria-label='guidance scale']");
    guidance.value = "";
    guidance.dispatchEvent(new Event("change"));
    expect($(".sdw-error").textContent).toContain("guidance must be a number");
    expect(guidance.value).toBe("1"); // the kept value is shown again
    guidance.value = "25";
    guidance.dispatchEvent(new Event("change"));
    expect(saved.at(-1)).toEqual({ guidance: 25 });
    expect([...$("select[aria-label='steps']").querySelectorAll("option")].map((o) => o.textContent).slice(0, 2))
      .toEqual(["1 step", "2 steps"]);
  });

  it("says disconnected at once when ipywidgets marks the view's comm as dead", () => {
    const fake = fakeModel();
    const host = document.createElement("div");
    host.classList.add("jupyter-widgets-disconnected");
    widget.render({ model: fake.model, el: host });
    expect(host.querySelector(".sdw-status-text")?.textContent).toBe(DISCONNECTED_TEXT);
  });

  it("cleanup removes every model listener it added", () => {
    const { cleanup, listenerCount } = mount();
    expect(listenerCount()).toBeGreaterThan(5);
    cleanup();
    expect(listenerCount()).toBe(0);
  });

  it("Enter commits a prompt and hands the keyboard to the widget, so Ctrl+Z then undoes a stroke", async () => {
    const { $, state, saved } = mount();
    const root = $(".sdw-root");
    expect(root.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    stroke($<HTMLCanvasElement>("canvas.sdw-draw"), 4, 1, 10);
    await vi.waitFor(() => expect(saved.filter((s) => s.labels).length).toBeGreaterThan(0)); // zlib runs off-thread
    await vi.advanceTimersByTimeAsync(200);
    const drawn = saved.filter((s) => s.labels).length;
    const prompt = $<HTMLInputElement>(".sdw-brush[data-label='1'] input[aria-label='brush prompt']");
    prompt.focus();
    prompt.value = "blue water";
    const enter = new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true });
    prompt.dispatchEvent(enter);
    expect(state.brushes[0].prompt).toBe("blue water");
    expect(document.activeElement).toBe(root);
    const outside = vi.fn();
    document.addEventListener("keydown", outside);
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "z", ctrlKey: true, bubbles: true, cancelable: true }));
    document.removeEventListener("keydown", outside);
    expect(outside).not.toHaveBeenCalled(); // the notebook never sees it
    await vi.waitFor(() => expect(saved.filter((s) => s.labels).length).toBe(drawn + 1)); // the undo synced
    const last = saved.filter((s) => s.labels).at(-1)!.labels!;
    const { inflateSync } = await import("node:zlib");
    const map = inflateSync(new Uint8Array(last.buffer, last.byteOffset, last.byteLength));
    expect(map.every((v) => v === 0)).toBe(true); // the stroke is gone
  });

  it("warns when painting with a brush that has no prompt, until it gets one", async () => {
    const { $, kernel, state } = mount();
    $<HTMLInputElement>(".sdw-brush[data-label='2'] input[type=radio]").dispatchEvent(new Event("change"));
    stroke($<HTMLCanvasElement>("canvas.sdw-draw"), 4, 1, 10);
    expect($(".sdw-warning").textContent).toBe(`ⓘ ${noPromptWarning("grass")}`); // the kernel's wording
    kernel.message({ kind: "welcome", version: PROTOCOL_VERSION, epoch: 1 });
    kernel.update("status", { state: "idle", fps: 0, tick: 3, error: null, epoch: 1, warning: noPromptWarning("grass") });
    expect($(".sdw-warning").textContent).toBe(`ⓘ ${noPromptWarning("grass")}`); // said once, not twice
    kernel.update("brushes", state.brushes.map((b, i) => (i === 1 ? { ...b, prompt: "green grass" } : b)));
    kernel.update("status", { state: "idle", fps: 0, tick: 3, error: null, epoch: 1, warning: null });
    expect($(".sdw-warning").textContent).toBe("");
  });

  it("shows the kernel's error and warning from the status trait", () => {
    const { $, kernel } = mount();
    kernel.update("status", { state: "error", fps: 0, tick: 0, error: "tick failed: boom", epoch: 1, warning: "ignored words: castle" });
    expect($(".sdw-status-text").textContent).toBe("error");
    expect($(".sdw-error").textContent).toContain("tick failed: boom");
    expect($(".sdw-warning").textContent).toContain("ignored words: castle");
  });
});

describe("widget liveness", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] }));
  afterEach(() => {
    vi.useRealTimers();
    document.body.replaceChildren();
  });

  it("a quiet live view says hello again, and a kernel that no longer answers (restarted) shows as disconnected", () => {
    const { sent, $, kernel, cleanup } = mount();
    const hellos = () => sent.filter((m) => (m as { kind: string }).kind === "hello").length;
    // heartbeat checks run every HEARTBEAT_MS / 3 (5 s); times below are since the welcome
    expect(HEARTBEAT_MS).toBe(15000);
    kernel.message({ kind: "welcome", version: PROTOCOL_VERSION, epoch: 1 });
    vi.advanceTimersByTime(14000);
    kernel.update("status", { state: "idle", fps: 0, tick: 9, error: null, epoch: 1, warning: null }); // heard from
    vi.advanceTimersByTime(15000); // t = 29 s: quiet for 15 s only now, after the check at 25 s
    expect(hellos()).toBe(1);
    vi.advanceTimersByTime(1000); // t = 30 s: the check finds it quiet
    expect(hellos()).toBe(2);
    vi.advanceTimersByTime(WELCOME_TIMEOUT_MS - 1);
    expect($(".sdw-status-text").textContent).toMatch(/^idle/); // still live while the welcome may come
    kernel.message({ kind: "welcome", version: PROTOCOL_VERSION, epoch: 1 }); // t = 36 s
    vi.advanceTimersByTime(19001); // t = 55 s: quiet again; the kernel was restarted, nobody answers ...
    expect(hellos()).toBe(3);
    expect($(".sdw-status-text").textContent).toMatch(/^idle/);
    vi.advanceTimersByTime(WELCOME_TIMEOUT_MS); // ... the welcome never comes
    expect($(".sdw-status-text").textContent).toBe(DISCONNECTED_TEXT);
    vi.advanceTimersByTime(10 * HEARTBEAT_MS);
    expect(hellos()).toBe(3); // no hellos into the void
    cleanup();
  });
});

describe("a shut-down kernel", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] }));
  afterEach(() => {
    vi.useRealTimers();
    document.body.replaceChildren();
  });

  it("shows as disconnected within a second, and nothing is sent into the dead comm", () => {
    const fake = fakeModel();
    const manager = { kernel: { status: "idle" } as { status: string } | null }; // JupyterLab's manager, duck-typed
    (fake.model as unknown as { widget_manager: unknown }).widget_manager = manager;
    const host = document.createElement("div");
    document.body.append(host);
    widget.render({ model: fake.model, el: host });
    const $ = <T extends Element = HTMLElement>(selector: string) => host.querySelector<T>(selector)!;
    fake.kernel.message({ kind: "welcome", version: PROTOCOL_VERSION, epoch: 1 });
    vi.advanceTimersByTime(3 * KERNEL_CHECK_MS);
    expect($(".sdw-status-text").textContent).toMatch(/^idle/);
    manager.kernel = null; // Kernel -> Shut Down: the session has no kernel any more
    vi.advanceTimersByTime(KERNEL_CHECK_MS);
    expect($(".sdw-status-text").textContent).toBe(DISCONNECTED_TEXT);
    expect($(".sdw-status").dataset.reason).toBe("host"); // told by the host, not by an unanswered hello
    const [saved, sent] = [fake.saved.length, fake.sent.length];
    const seed = $<HTMLInputElement>("input[aria-label='seed']");
    seed.value = "7";
    seed.dispatchEvent(new Event("change"));
    const stepButton = [...$("div.sdw-toolbar").querySelectorAll("button")].find((b) => b.textContent === "step");
    stepButton?.click();
    expect([fake.saved.length, fake.sent.length]).toEqual([saved, sent]);
    expect(fake.state.seed).toBe(7); // kept in the view
    fake.kernel.message({ kind: "welcome", version: PROTOCOL_VERSION, epoch: 1 }); // it answers after all
    expect(fake.saved.at(-1)).toEqual({ seed: 7 }); // the held change goes out then
  });

  it("a restarting or dead kernel counts as gone; a host without a kernel property never says so", () => {
    for (const [manager, gone] of [[{ kernel: { status: "dead" } }, true], [{ kernel: { status: "restarting" } }, true],
      [{ kernel: { status: "busy", isDisposed: true } }, true], [{ kernel: { status: "busy" } }, false],
      [{ get_model: () => null }, false], [null, false]] as const) {
      expect(kernelGone(manager)).toBe(gone);
    }
  });
});

describe("widget controls follow the kernel", () => {
  afterEach(() => document.body.replaceChildren());

  it("a refused steps value the kernel puts back shows in the menu, even while it has focus", () => {
    const { $, kernel, state } = mount();
    const steps = $<HTMLSelectElement>("select[aria-label='steps']");
    steps.focus();
    steps.value = "8";
    steps.dispatchEvent(new Event("change"));
    expect(state.steps).toBe(8);
    kernel.update("steps", 4); // the kernel refused 8 and kept 4
    expect(steps.value).toBe("4");
  });

  it("an echo never clobbers a prompt the user is typing", () => {
    const { $, kernel, state } = mount();
    const prompt = $<HTMLInputElement>(".sdw-brush[data-label='1'] input.sdw-prompt");
    prompt.focus();
    prompt.value = "half typ";
    kernel.update("brushes", state.brushes.map((b, i) => (i === 1 ? { ...b, name: "lawn" } : b)));
    expect(prompt.value).toBe("half typ");
    expect($<HTMLInputElement>(".sdw-brush[data-label='2'] input.sdw-name").value).toBe("lawn");
  });
});

describe("play on a stopped canvas", () => {
  afterEach(() => document.body.replaceChildren());

  it("offers play when no stream runs although `playing` is true, and a click makes the kernel see play", () => {
    const { $, kernel, saved, state } = mount();
    kernel.message({ kind: "welcome", version: PROTOCOL_VERSION, epoch: 0 });
    kernel.update("status", { ...state.status, state: "stopped" });
    const play = [...$(".sdw-toolbar").querySelectorAll("button")].find((b) => b.title === "play / pause")!;
    expect(state.playing).toBe(true);
    expect(play.textContent).toBe("▶ play");
    play.click();
    expect(saved.filter((s) => "playing" in s).map((s) => s.playing)).toEqual([false, true]);
    kernel.update("status", { ...state.status, state: "streaming" });
    expect(play.textContent).toBe("❚❚ pause");
    play.click();
    expect(state.playing).toBe(false);
  });
});
