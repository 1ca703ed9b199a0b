// Wires the pieces together: palette + tools (DOM), drawing surface, frame view, status line.

import { DrawingSurface, type Tool } from "./canvas";
import { FrameView } from "./frames";
import { compressLabels, decompressLabels, LabelMap, UndoStack } from "./labels";
import { isServerMessage, newBrush, PROTOCOL_VERSION, type Brush, type ClientMessage, type Model } from "./protocol";

export interface AnyModel<T> {
  get<K extends keyof T>(key: K): T[K];
  set<K extends keyof T>(key: K, value: T[K]): void;
  save_changes(): void;
  on(event: string, callback: (...args: any[]) => void): void;
  off(event?: string | null, callback?: ((...args: any[]) => void) | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

const STROKE_SYNC_MS = 100; // label-map syncs during a stroke: a stream needs one every `steps` ticks to keep going
// Frame acks at most this often. Every message to the kernel costs a busy/idle pair, which JupyterLab turns
// into favicon swaps (HTTP requests); the kernel's ack window (max_in_flight, 6 for the canvas) covers it.
const ACK_INTERVAL_MS = 100;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function bytesOf(view: DataView | null | undefined): Uint8Array {
  return view ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : new Uint8Array();
}

export function render({ model, el: host }: { model: AnyModel<Model>; el: HTMLElement }): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const send = (message: ClientMessage) => model.send(message);
  let selected = 1;
  let tool: Tool = "brush";
  let size = 12;
  let labels = new LabelMap(model.get("width"), model.get("height"));
  let ownLabels: DataView | null = null; // the last value this view set, to skip its own echo
  const undo = new UndoStack();

  // -- status line -----------------------------------------------------------------------
  const statusText = el("span", { className: "sdw-status-text" });
  const errorText = el("span", { className: "sdw-error" });
  const status = el("div", { className: "sdw-status" }, statusText, errorText);
  const showStatus = () => {
    const s = model.get("status");
    statusText.textContent = `${s.state} · ${s.fps.toFixed(1)} frames/s · tick ${s.tick}`;
    errorText.textContent = s.error ? `⚠ ${s.error}` : "";
    status.dataset.state = s.state;
  };
  const showLocalError = (message: string) => {
    errorText.textContent = `⚠ ${message}`;
    console.warn(`[semanticdraw] ${message}`);
  };

  // -- label map sync ------------------------------------------------------------------------
  // Steady cadence during a stroke: the first change syncs at once, later ones at most every
  // STROKE_SYNC_MS (a pending sync is not pushed back by further changes, so a long stroke keeps
  // the stream fed), and the stroke end syncs at once.
  let syncTimer: ReturnType<typeof setTimeout> | null = null;
  let lastSync = 0;
  let pushes = 0;
  const pushLabels = async () => {
    if (syncTimer) clearTimeout(syncTimer);
    syncTimer = null;
    lastSync = Date.now();
    const push = ++pushes;
    const compressed = await compressLabels(labels.data);
    if (push !== pushes) return; // a newer map is on its way
    ownLabels = new DataView(compressed.buffer, compressed.byteOffset, compressed.byteLength);
    model.set("labels", ownLabels);
    model.save_changes();
  };
  const labelsChanged = (final: boolean) => {
    const wait = STROKE_SYNC_MS - (Date.now() - lastSync);
    if (final || wait <= 0) void pushLabels();
    else if (!syncTimer) syncTimer = setTimeout(() => void pushLabels(), wait);
  };
  const loadLabels = async () => {
    const view = model.get("labels");
    if (view === ownLabels) return;
    try {
      const map = await decompressLabels(bytesOf(view), model.get("width"), model.get("height"));
      labels = map;
      surface.setLabels(map);
    } catch (error) {
      showLocalError(`could not read the label map: ${error}`);
    }
  };

  // -- drawing surface -----------------------------------------------------------------------
  const surface = new DrawingSurface(labels, {
    tool: () => tool,
    label: () => selected,
    size: () => size,
    colors: () => model.get("brushes").map((b) => (b.visible ? b.color : null)),
  }, { beforeEdit: (before) => undo.push(before), changed: labelsChanged }, signal);

  const restore = (data: Uint8Array | null) => {
    if (!data) return;
    labels = new LabelMap(labels.width, labels.height, data);
    surface.setLabels(labels);
    labelsChanged(true);
  };
  const doUndo = () => restore(undo.undo(labels.data));
  const doRedo = () => restore(undo.redo(labels.data));

  // -- frames ---------------------------------------------------------------------------------
  const frames = new FrameView(send, { ackInterval: ACK_INTERVAL_MS });
  const showSnapshot = () => {
    if (frames.painted) return; // live frames are newer than the snapshot
    frames.showStill(bytesOf(model.get("snapshot")), model.get("snapshot_mime"))
      .catch((error) => console.warn(`[semanticdraw] could not show the snapshot: ${error}`));
  };
  showSnapshot();
  model.on("msg:custom", (message: unknown, buffers: (DataView | ArrayBuffer)[]) => {
    if (!isServerMessage(message)) {
      console.warn("[semanticdraw] ignored an unknown message", message);
      return;
    }
    if (message.kind === "frame") {
      if (buffers?.length) frames.receive(message, buffers[0]);
    } else {
      showLocalError(message.message);
    }
  });

  // -- toolbar ---------------------------------------------------------------------------------
  const button = (text: string, title: string, onClick: () => void) => {
    const b = el("button", { textContent: text, title, type: "button" });
    b.addEventListener("click", onClick, { signal });
    return b;
  };
  const toolButtons = (["brush", "eraser", "fill"] as Tool[]).map((name) => {
    const b = button(name, `${name} tool`, () => {
      tool = name;
      toolButtons.forEach((other) => other.classList.toggle("sdw-active", other === b));
    });
    b.dataset.tool = name;
    b.classList.toggle("sdw-active", name === tool);
    return b;
  });
  const sizeInput = el("input", { type: "range", min: "1", max: "64", value: String(size), title: "brush size" });
  sizeInput.addEventListener("input", () => (size = Number(sizeInput.value)), { signal });
  const playButton = button("", "play / pause", () => {
    model.set("playing", !model.get("playing"));
    model.save_changes();
  });
  const showPlaying = () => (playButton.textContent = model.get("playing") ? "❚❚ pause" : "▶ play");
  const seedInput = el("input", { type: "number", value: String(model.get("seed")), title: "seed", min: "0" });
  seedInput.addEventListener("change", () => {
    const seed = Math.max(0, Math.floor(Number(seedInput.value) || 0));
    model.set("seed", seed);
    model.save_changes();
  }, { signal });
  const stepsInput = el("select", { title: "steps" });
  for (let n = 1; n <= 8; n++) stepsInput.append(el("option", { value: String(n), textContent: `${n} steps` }));
  stepsInput.value = String(model.get("steps"));
  stepsInput.addEventListener("change", () => {
    model.set("steps", Number(stepsInput.value));
    model.save_changes();
  }, { signal });
  // negative prompts only act with classifier-free guidance, so the control sits in plain view
  const guidanceInput = el("input", { type: "number", min: "0", max: "20", step: "0.5",
    value: String(model.get("guidance")), title: "guidance scale: above 1, negative prompts steer (one extra batch)" });
  guidanceInput.addEventListener("change", () => {
    const value = Math.max(0, Number(guidanceInput.value) || 0);
    model.set("guidance", value);
    model.save_changes();
  }, { signal });
  const toolbar = el("div", { className: "sdw-toolbar" }, ...toolButtons, sizeInput,
    button("↶", "undo (Ctrl+Z)", doUndo), button("↷", "redo (Ctrl+Shift+Z)", doRedo),
    button("clear", "clear the canvas", () => {
      undo.push(labels.data);
      if (labels.clear()) {
        surface.redraw();
        labelsChanged(true);
      }
    }),
    playButton, button("step", "one step while paused", () => send({ kind: "command", name: "step" })),
    seedInput, button("new seed", "a random seed", () => {
      model.set("seed", Math.floor(Math.random() * 2 ** 31));
      model.save_changes();
    }), stepsInput, el("label", { className: "sdw-field", title: guidanceInput.title }, "guidance", guidanceInput));

  // -- background photo (inpainting) ---------------------------------------------------------------
  let photoUrl: string | null = null;
  const showPhoto = () => {
    if (photoUrl) URL.revokeObjectURL(photoUrl);
    const bytes = bytesOf(model.get("background_image"));
    photoUrl = bytes.length ? URL.createObjectURL(new Blob([bytes as BlobPart])) : null;
    surface.canvas.style.backgroundImage = photoUrl ? `url(${photoUrl})` : "";
    surface.canvas.style.backgroundSize = photoUrl ? "cover" : "";
  };
  const photoInput = el("input", { type: "file", accept: "image/png,image/jpeg,image/webp" });
  photoInput.style.display = "none";
  photoInput.addEventListener("change", async () => {
    const file = photoInput.files?.[0];
    if (!file) return;
    const buffer = await file.arrayBuffer();
    model.set("background_image", new DataView(buffer));
    model.save_changes();
    photoInput.value = "";
  }, { signal });
  toolbar.append(photoInput, button("photo…", "inpaint into an uploaded photo", () => photoInput.click()),
    button("no photo", "remove the background photo", () => {
      model.set("background_image", new DataView(new ArrayBuffer(0)));
      model.save_changes();
    }));

  // -- palette ---------------------------------------------------------------------------------
  const palette = el("div", { className: "sdw-palette" });
  const setBrushes = (brushes: Brush[]) => {
    model.set("brushes", brushes);
    model.save_changes();
  };
  const editBrush = (index: number, change: Partial<Brush>) =>
    setBrushes(model.get("brushes").map((b, i) => (i === index ? { ...b, ...change } : b)));
  const field = (label: string, input: HTMLElement) => el("label", { className: "sdw-field" }, label, input);
  const textInput = (value: string, placeholder: string, onChange: (v: string) => void) => {
    const input = el("input", { type: "text", value, placeholder });
    let committed = value;
    const commit = () => {
      if (input.value === committed) return;
      committed = input.value;
      onChange(input.value);
    };
    input.addEventListener("change", commit, { signal }); // also on Enter: see the root's keydown handler
    return input;
  };
  const slider = (value: number, min: number, max: number, step: number, onChange: (v: number) => void) => {
    const input = el("input", { type: "range", min: String(min), max: String(max), step: String(step), value: String(value) });
    input.addEventListener("change", () => onChange(Number(input.value)), { signal });
    return input;
  };
  const negativeHint = () => (model.get("guidance") > 1 ? "negative prompt" : "negative prompt (needs guidance > 1)");
  const renderPalette = () => {
    const background = model.get("background");
    const rows: HTMLElement[] = [el("div", { className: "sdw-brush sdw-background" },
      el("strong", { textContent: "background" }),
      textInput(background.prompt, "background prompt", (prompt) => {
        model.set("background", { ...model.get("background"), prompt });
        model.save_changes();
      }),
      textInput(background.negative_prompt, `${negativeHint()} (all regions)`, (negative_prompt) => {
        model.set("background", { ...model.get("background"), negative_prompt });
        model.save_changes();
      }))];
    model.get("brushes").forEach((brush, index) => {
      const label = index + 1;
      const row = el("div", { className: "sdw-brush" });
      row.classList.toggle("sdw-selected", label === selected);
      row.dataset.label = String(label);
      const pick = el("input", { type: "radio", name: "sdw-brush", checked: label === selected, title: "paint with this brush" });
      pick.addEventListener("change", () => {
        selected = label;
        if (tool === "eraser") tool = "brush";
        renderPalette();
      }, { signal });
      const color = el("input", { type: "color", value: brush.color, title: "brush colour" });
      color.addEventListener("change", () => editBrush(index, { color: color.value }), { signal });
      const visible = el("input", { type: "checkbox", checked: brush.visible, title: "visible" });
      visible.addEventListener("change", () => editBrush(index, { visible: visible.checked }), { signal });
      const move = (delta: number) => {
        const other = index + delta;
        const brushes = [...model.get("brushes")];
        if (other < 0 || other >= brushes.length) return;
        [brushes[index], brushes[other]] = [brushes[other], brushes[index]];
        undo.push(labels.data);
        labels.swapLabels(label, other + 1);
        if (selected === label) selected = other + 1;
        setBrushes(brushes);
        surface.redraw();
        labelsChanged(true);
      };
      const remove = () => {
        const brushes = model.get("brushes").filter((_, i) => i !== index);
        undo.push(labels.data);
        labels.removeLabel(label);
        selected = Math.max(1, Math.min(selected, brushes.length));
        setBrushes(brushes);
        surface.redraw();
        labelsChanged(true);
      };
      row.append(pick, color, textInput(brush.name, "name", (name) => editBrush(index, { name })),
        textInput(brush.prompt, "prompt", (prompt) => editBrush(index, { prompt })),
        textInput(brush.negative_prompt, negativeHint(), (negative_prompt) => editBrush(index, { negative_prompt })),
        field("prompt strength", slider(brush.prompt_strength, 0, 1, 0.01, (v) => editBrush(index, { prompt_strength: v }))),
        field("mask strength", slider(brush.mask_strength, 0, 1, 0.01, (v) => editBrush(index, { mask_strength: v }))),
        field("blur", slider(brush.mask_blur, 0, 64, 1, (v) => editBrush(index, { mask_blur: v }))),
        visible, button("↑", "move down (under)", () => move(-1)), button("↓", "move up (over)", () => move(1)),
        button("✕", "remove brush", remove));
      rows.push(row);
    });
    rows.push(button("+ brush", "add a brush", () => {
      const brushes = model.get("brushes");
      if (brushes.length >= 254) return showLocalError("at most 254 brushes");
      selected = brushes.length + 1;
      setBrushes([...brushes, newBrush(brushes.length)]);
    }));
    palette.replaceChildren(...rows);
  };

  // -- layout, keyboard, model events -------------------------------------------------------------
  const stage = el("div", { className: "sdw-stage" }, surface.canvas, frames.canvas);
  const root = el("div", { className: "sdw-root", tabIndex: 0 }, toolbar, stage, status, palette);
  // Keys typed into the widget are the widget's: the host (JupyterLab's notebook shortcuts: Enter, Ctrl+Z,
  // a, b, dd...) must not act on them, as ipywidgets' own text fields do.
  root.addEventListener("keydown", (e) => {
    const target = e.target as HTMLElement;
    if (target.tagName === "INPUT") {
      // Enter commits a field: inside JupyterLab the browser's own change-on-Enter never comes
      const type = (target as HTMLInputElement).type;
      if (e.key === "Enter" && (type === "text" || type === "number")) target.dispatchEvent(new Event("change"));
      e.stopPropagation();
      return;
    }
    if (!(e.ctrlKey || e.metaKey)) return;
    const key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) doUndo();
    else if ((key === "z" && e.shiftKey) || key === "y") doRedo();
    else return;
    e.preventDefault();
    e.stopPropagation();
  }, { signal });
  // Drawing gives the widget the keyboard, so Ctrl+Z right after a stroke undoes it (a host page such as
  // JupyterLab may otherwise keep focus on the notebook, which would take the key as its own undo).
  surface.canvas.addEventListener("pointerdown", () => root.focus({ preventScroll: true }), { signal });
  host.replaceChildren(root);

  const handlers: [string, () => void][] = [
    ["change:status", showStatus],
    ["change:playing", showPlaying],
    ["change:brushes", () => { renderPalette(); surface.redraw(); }],
    ["change:background", renderPalette],
    ["change:labels", () => void loadLabels()],
    ["change:background_image", showPhoto],
    ["change:seed", () => (seedInput.value = String(model.get("seed")))],
    ["change:steps", () => (stepsInput.value = String(model.get("steps")))],
    ["change:guidance", () => { guidanceInput.value = String(model.get("guidance")); renderPalette(); }],
    ["change:snapshot", showSnapshot],
  ];
  for (const [event, handler] of handlers) model.on(event, handler);
  showStatus();
  showPhoto();
  showPlaying();
  renderPalette();
  void loadLabels();
  if (model.get("protocol_version") !== PROTOCOL_VERSION) {
    showLocalError(`kernel speaks protocol ${model.get("protocol_version")}, this view ${PROTOCOL_VERSION}: reload the page`);
  }
  send({ kind: "hello", version: PROTOCOL_VERSION });

  return () => {
    controller.abort();
    for (const [event, handler] of handlers) model.off(event, handler);
    if (syncTimer) clearTimeout(syncTimer);
    frames.dispose();
    if (photoUrl) URL.revokeObjectURL(photoUrl);
  };
}

export default { render };
