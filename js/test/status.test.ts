import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { noPromptWarning, type Status } from "../src/protocol";
import { CONNECTING_TEXT, describeStatus, DISCONNECTED_TEXT, StatusLine, WELCOME_TIMEOUT_MS } from "../src/status";

const status = (change: Partial<Status> = {}): Status =>
  ({ state: "streaming", fps: 12.34, tick: 7, error: null, epoch: 1, warning: null, ...change });

describe("describeStatus", () => {
  it("shows the kernel's state and counters only when the kernel is live", () => {
    expect(describeStatus(status(), "live")).toEqual(
      { state: "streaming", text: "streaming · 12.3 frames/s · tick 7", error: "", warning: "" });
    expect(describeStatus(status(), "connecting").text).toBe(CONNECTING_TEXT);
    const saved = describeStatus(status({ state: "idle" }), "disconnected"); // a re-opened notebook's saved state
    expect(saved.text).toBe(DISCONNECTED_TEXT);
    expect(saved.state).toBe("disconnected");
    expect(saved.text).not.toContain("idle");
  });

  it("shows the kernel's error and warning, and this view's own", () => {
    const line = describeStatus(status({ state: "error", error: "tick failed: boom", warning: "ignored: castle" }), "live");
    expect(line).toMatchObject({ state: "error", text: "error", error: "tick failed: boom", warning: "ignored: castle" });
    const local = describeStatus(status({ warning: "ignored: castle" }), "live", { warning: "brush 2 has no prompt" });
    expect(local.warning).toBe("brush 2 has no prompt · ignored: castle");
    expect(describeStatus(status({ warning: "ignored: castle" }), "disconnected").warning).toBe("");
    expect(describeStatus(status(), "live", { error: "bad file" }).error).toBe("bad file");
    const both = describeStatus(status({ warning: `${noPromptWarning("grass")}; the model ignores: castle` }), "live",
      { warning: noPromptWarning("grass") });
    expect(both.warning).toBe(`${noPromptWarning("grass")}; the model ignores: castle`); // said once, in one wording
    const other = describeStatus(status({ warning: noPromptWarning("grass") }), "live", { warning: noPromptWarning("sky") });
    expect(other.warning).toBe(`${noPromptWarning("sky")} · ${noPromptWarning("grass")}`); // two brushes: both
  });
});

describe("StatusLine", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const line = (current: Status, disconnected = false) =>
    new StatusLine({ status: () => current, hostDisconnected: () => disconnected });
  const text = (l: StatusLine) => l.element.querySelector(".sdw-status-text")?.textContent;

  it("says connecting until the welcome, then shows the kernel's status", () => {
    const l = line(status());
    expect(text(l)).toBe(CONNECTING_TEXT);
    expect(l.element.dataset.connection).toBe("connecting");
    vi.advanceTimersByTime(WELCOME_TIMEOUT_MS - 1);
    l.alive();
    expect(text(l)).toBe("streaming · 12.3 frames/s · tick 7");
    vi.advanceTimersByTime(10 * WELCOME_TIMEOUT_MS);
    expect(l.connection).toBe("live"); // the timer was cancelled
  });

  it("says disconnected when no welcome comes, and recovers when the kernel speaks", () => {
    const l = line(status({ state: "idle" }));
    vi.advanceTimersByTime(WELCOME_TIMEOUT_MS);
    expect(text(l)).toBe(DISCONNECTED_TEXT);
    expect(l.element.dataset.state).toBe("disconnected");
    l.alive();
    expect(text(l)).toMatch(/^idle/);
  });

  it("says disconnected at once when ipywidgets already knows the comm is dead", () => {
    const l = line(status(), true);
    expect(l.connection).toBe("disconnected");
    expect(text(l)).toBe(DISCONNECTED_TEXT);
  });

  it("keeps its own error until the kernel's state changes", () => {
    const current = status();
    const l = line(current);
    l.alive();
    l.error("at most 254 brushes");
    current.fps = 20;
    l.show(); // counters only
    expect(l.element.querySelector(".sdw-error")?.textContent).toBe("⚠ at most 254 brushes");
    current.state = "idle";
    l.show();
    expect(l.element.querySelector(".sdw-error")?.textContent).toBe("");
    l.warning("brush 3 has no prompt");
    expect(l.element.querySelector(".sdw-warning")?.textContent).toBe("ⓘ brush 3 has no prompt");
    l.warning(null);
    expect(l.element.querySelector(".sdw-warning")?.textContent).toBe("");
  });
});
