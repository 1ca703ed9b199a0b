import type { AnyModel } from "@anywidget/types";
import { BRUSH_DEFAULTS, PROTOCOL_VERSION, type Model } from "../src/protocol";

export function initialState(change: Partial<Model> = {}): Model {
  return {
    width: 16, height: 8,
    brushes: [{ ...BRUSH_DEFAULTS, name: "bricks", color: "#d9503f", prompt: "red bricks" },
      { ...BRUSH_DEFAULTS, name: "grass", color: "#3fae4a", prompt: "" }],
    background: { prompt: "sky", negative_prompt: "" },
    labels: new DataView(new ArrayBuffer(0)), background_image: new DataView(new ArrayBuffer(0)),
    seed: 0, steps: 4, guidance: 1, playing: true,
    status: { state: "idle", fps: 0, tick: 3, error: null, epoch: 1, warning: null },
    snapshot: new DataView(new ArrayBuffer(0)), snapshot_mime: "image/jpeg", protocol_version: PROTOCOL_VERSION,
    ...change,
  };
}

/** An in-memory anywidget model: records what the view sends and saves, counts its listeners. */
export function fakeModel(state: Model = initialState()) {
  const listeners = new Map<string, ((...args: any[]) => void)[]>();
  const sent: unknown[] = [];
  const saved: Partial<Model>[] = [];
  let dirty: Partial<Model> = {};
  const fire = (event: string, ...args: unknown[]) => (listeners.get(event) ?? []).slice().forEach((f) => f(...args));
  const model = {
    get: <K extends keyof Model>(key: K) => state[key],
    set: <K extends keyof Model>(key: K, value: Model[K]) => { state[key] = value; dirty[key] = value; fire(`change:${key}`); },
    save_changes: () => { saved.push(dirty); dirty = {}; },
    send: (content: unknown) => { sent.push(content); },
    on: (event: string, f: (...args: any[]) => void) => listeners.set(event, [...(listeners.get(event) ?? []), f]),
    off: (event?: string | null, f?: ((...args: any[]) => void) | null) => {
      if (event) listeners.set(event, (listeners.get(event) ?? []).filter((g) => g !== f));
    },
    widget_manager: { get_model: async () => { throw new Error("no manager"); } },
  } as unknown as AnyModel<Model>;
  const kernel = { // what the kernel would do
    update: <K extends keyof Model>(key: K, value: Model[K]) => { state[key] = value; fire(`change:${key}`); },
    message: (content: unknown, buffers: DataView[] = []) => fire("msg:custom", content, buffers),
  };
  const listenerCount = () => [...listeners.values()].reduce((n, l) => n + l.length, 0);
  return { model, sent, saved, kernel, listenerCount, state };
}
