// Wires the pieces together: toolbar, drawing surface + frame view (the stage), status line, palette,
// label sync and the keyboard. Each piece is its own module; this file only connects them to the model.

import type { RenderProps } from "@anywidget/types";
import { DrawingSurface } from "./canvas";
import { bytesOf, el } from "./dom";
import { FrameView } from "./frames";
import { installKeyboard } from "./keyboard";
import { decompressLabels, LabelMap, type Snapshot, UndoStack } from "./labels";
import { LabelSync } from "./labelSync";
import { Palette } from "./palette";
import { isServerMessage, MAX_BRUSHES, newBrush, PROTOCOL_VERSION, type BackgroundState, type Brush,
  type ClientMessage, type Model } from "./protocol";
import { DISCONNECTED_CLASS, emptyPromptWarning, HEARTBEAT_MS, kernelGone, StatusLine } from "./status";
import { Toolbar } from "./toolbar";

const STROKE_SYNC_MS = 100; // label-map syncs during a stroke: a stream needs one every `steps` ticks to keep going
// Frame acks at most this often. Every message to the kernel costs a busy/idle pair, which JupyterLab turns
// into favicon swaps (HTTP requests); the kernel's ack window (max_in_flight, 6 for the canvas) covers it.
const ACK_INTERVAL_MS = 100;

/** What render needs of anywidget's props (a test page passes just these). */
export type ViewProps = Pick<RenderProps<Model>, "model" | "el"> & Partial<Pick<RenderProps<Model>, "signal">>;

function render({ model, el: host, signal: hostSignal }: ViewProps): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  hostSignal?.addEventListener("abort", () => controller.abort(), { signal });
  // A closed comm (the kernel restarted or shut down) throws on send, also from timers such as the
  // frame view's deferred ack: never let that escape into the page; the status line says disconnected.
  // Nothing but a hello goes out while disconnected (a dead comm makes ipywidgets log an error per message).
  const send = (message: ClientMessage): boolean => {
    if (message.kind !== "hello" && status.connection === "disconnected") return false;
    try {
      model.send(message);
      return true;
    } catch (error) {
      console.warn(`[semanticdraw] could not reach the kernel: ${error}`);
      status.lost("send");
      return false;
    }
  };
  let held = false; // changes saved while disconnected, not sent yet
  const save = <K extends keyof Model>(key: K, value: Model[K]) => {
    model.set(key, value);
    if (status.connection === "disconnected") held = true;
    else flush();
  };
  // Saving while disconnected is held back: the model keeps the changes and sends them all once the kernel
  // speaks again (a welcome after a slow answer), or never (a dead kernel: "run the notebook's cells again").
  const flush = () => {
    held = false;
    try {
      model.save_changes();
    } catch (error) { // a closed comm, as for send: the view keeps the value, the status says disconnected
      console.warn(`[semanticdraw] could not reach the kernel: ${error}`);
      status.lost("send");
    }
  };
  let selected = 1;
  let warnedLabel: number | null = null; // the brush the empty-prompt warning is about
  let labels = new LabelMap(model.get("width"), model.get("height"));
  const undo = new UndoStack();

  const status = new StatusLine({
    status: () => model.get("status"),
    hostDisconnected: () => host.classList.contains(DISCONNECTED_CLASS) || kernelGone(model.widget_manager),
    reconnected: () => held && flush(),
  });
  const sync = new LabelSync(() => labels.data, (value) => save("labels", value), { interval: STROKE_SYNC_MS });
  const loadLabels = async () => {
    const view = model.get("labels");
    if (sync.isOwn(view)) return;
    try {
      labels = await decompressLabels(bytesOf(view), model.get("width"), model.get("height"));
      surface.setLabels(labels);
    } catch (error) {
      status.error(`could not read the label map: ${error}`);
    }
  };

  // -- drawing surface and frames: the stage ---------------------------------------------------------
  const surface = new DrawingSurface(labels, {
    tool: () => toolbar.tool,
    label: () => selected,
    size: () => toolbar.size,
    colors: () => model.get("brushes").map((b) => (b.visible ? b.color : null)),
  }, {
    beforeEdit: (before) => {
      undo.push({ labels: before });
      warnedLabel = toolbar.tool === "eraser" ? null : selected;
      status.warning(warnedLabel === null ? null : emptyPromptWarning(model.get("brushes"), warnedLabel));
    },
    changed: (final) => sync.changed(final),
  }, signal);
  // An undo step of a palette edit (remove, reorder) brings the brushes back with the map they number
  const current = (): Snapshot => ({ labels: labels.data, palette: { brushes: model.get("brushes"), selected } });
  const restore = (snapshot: Snapshot | null) => {
    if (!snapshot) return;
    if (snapshot.palette) { // the brushes first: the kernel checks the map's labels against them
      selected = snapshot.palette.selected;
      setBrushes(snapshot.palette.brushes);
      palette.update();
    }
    labels = new LabelMap(labels.width, labels.height, snapshot.labels);
    surface.setLabels(labels);
    sync.changed(true);
  };
  const undoEdit = () => restore(undo.undo(current()));
  const redoEdit = () => restore(undo.redo(current()));
  // a one-off edit of the whole map, undoable (with the palette when the edit renumbers brushes)
  const edit = (change: (map: LabelMap) => void, paletteEdit = false) => {
    undo.push(paletteEdit ? current() : { labels: labels.data });
    change(labels);
    surface.redraw();
    sync.changed(true);
  };

  const frames = new FrameView(send, { ackInterval: ACK_INTERVAL_MS });
  const showSnapshot = () => {
    if (frames.painted) return; // live frames are newer than the snapshot
    frames.showStill(bytesOf(model.get("snapshot")), model.get("snapshot_mime"))
      .catch((error) => console.warn(`[semanticdraw] could not show the snapshot: ${error}`));
  };
  const stage = el("div", { className: "sdw-stage" }, surface.canvas, frames.canvas);
  const showSize = () => { // both canvases share the row and scale by CSS; their pixels stay width x height
    stage.style.setProperty("--sdw-width", `${model.get("width")}px`);
    if (!frames.painted) {
      frames.canvas.width = model.get("width");
      frames.canvas.height = model.get("height");
    }
  };

  let photoUrl: string | null = null;
  const showPhoto = () => {
    if (photoUrl) URL.revokeObjectURL(photoUrl);
    const bytes = bytesOf(model.get("background_image"));
    photoUrl = bytes.length ? URL.createObjectURL(new Blob([bytes as BlobPart])) : null;
    surface.canvas.style.backgroundImage = photoUrl ? `url(${photoUrl})` : "";
    surface.canvas.style.backgroundSize = photoUrl ? "cover" : "";
  };

  // -- toolbar and palette ----------------------------------------------------------------------------
  const toolbar = new Toolbar({
    playing: () => model.get("playing"),
    seed: () => model.get("seed"),
    steps: () => model.get("steps"),
    guidance: () => model.get("guidance"),
    undo: undoEdit,
    redo: redoEdit,
    clear: () => edit((map) => map.clear()),
    stopped: () => status.connection === "live" && ["stopped", "error"].includes(model.get("status").state),
    togglePlaying: (play) => {
      // play on a stopped canvas starts it; the kernel acts on a change of `playing`, so when the trait
      // still says true (stopped from Python), it goes false and back to true
      if (play && model.get("playing")) save("playing", false);
      save("playing", play);
    },
    step: () => send({ kind: "command", name: "step" }),
    setSeed: (seed) => save("seed", seed),
    setSteps: (steps) => save("steps", steps),
    setGuidance: (guidance) => save("guidance", guidance),
    setPhoto: (bytes) => save("background_image", new DataView(bytes ?? new ArrayBuffer(0))),
    toolChanged: () => undefined,
    refuse: (message) => status.error(message),
  }, signal);

  const setBrushes = (brushes: Brush[]) => save("brushes", brushes);
  const palette = new Palette({
    brushes: () => model.get("brushes"),
    background: () => model.get("background"),
    guidance: () => model.get("guidance"),
    selected: () => selected,
    select: (label) => {
      selected = label;
      if (toolbar.tool === "eraser") toolbar.tool = "brush";
      palette.update();
    },
    editBrush: (index, change) => {
      const brushes = model.get("brushes");
      const brush = brushes[index];
      if (!brush || (Object.keys(change) as (keyof Brush)[]).every((key) => brush[key] === change[key])) return;
      setBrushes(brushes.map((b, i) => (i === index ? { ...b, ...change } : b)));
    },
    editBackground: (change: Partial<BackgroundState>) => {
      const background = model.get("background");
      if ((Object.keys(change) as (keyof BackgroundState)[]).every((key) => background[key] === change[key])) return;
      save("background", { ...background, ...change });
    },
    move: (index, delta) => {
      const brushes = [...model.get("brushes")];
      const other = index + delta;
      if (other < 0 || other >= brushes.length) return;
      [brushes[index], brushes[other]] = [brushes[other], brushes[index]];
      edit((map) => map.swapLabels(index + 1, other + 1), true);
      if (selected === index + 1) selected = other + 1;
      else if (selected === other + 1) selected = index + 1;
      setBrushes(brushes);
    },
    remove: (index) => {
      const brushes = model.get("brushes").filter((_, i) => i !== index);
      edit((map) => map.removeLabel(index + 1), true);
      selected = Math.max(1, Math.min(selected > index + 1 ? selected - 1 : selected, brushes.length));
      setBrushes(brushes);
    },
    add: () => {
      const brushes = model.get("brushes");
      if (brushes.length >= MAX_BRUSHES) return status.error(`at most ${MAX_BRUSHES} brushes`);
      selected = brushes.length + 1;
      setBrushes([...brushes, newBrush(brushes.length)]);
    },
  }, signal);

  // -- layout and keyboard -----------------------------------------------------------------------------
  const root = el("div", { className: "sdw-root", tabIndex: 0 }, toolbar.element, stage, status.element, palette.element);
  installKeyboard(root, { undo: undoEdit, redo: redoEdit }, signal);
  // Drawing gives the widget the keyboard, so Ctrl+Z right after a stroke undoes it (a host page such as
  // JupyterLab may otherwise keep focus on the notebook, which would take the key as its own undo).
  surface.canvas.addEventListener("pointerdown", () => root.focus({ preventScroll: true }), { signal });
  host.replaceChildren(root);

  // -- model events ----------------------------------------------------------------------------------
  const onMessage = (message: unknown, buffers: (DataView | ArrayBuffer)[]) => {
    if (!isServerMessage(message)) {
      console.warn("[semanticdraw] ignored an unknown message", message);
      return;
    }
    status.alive();
    if (message.kind === "frame") {
      if (buffers?.length) frames.receive(message, buffers[0]);
    } else if (message.kind === "welcome") {
      frames.adoptEpoch(message.epoch);
      toolbar.update();
      if (message.version !== PROTOCOL_VERSION) {
        status.error(`kernel speaks protocol ${message.version}, this view ${PROTOCOL_VERSION}: reload the page`);
      }
    } else {
      status.error(message.message);
    }
  };
  const handlers: [string, (...args: any[]) => void][] = [
    ["msg:custom", onMessage],
    ["change:status", () => { status.alive(); toolbar.update(); }], // only the kernel sets it
    ["change:playing", () => toolbar.update()],
    ["change:seed", () => toolbar.update()],
    ["change:steps", () => toolbar.update()],
    ["change:guidance", () => { toolbar.update(); palette.update(); }],
    ["change:brushes", () => {
      palette.update();
      surface.redraw();
      if (warnedLabel !== null) status.warning(emptyPromptWarning(model.get("brushes"), warnedLabel));
    }],
    ["change:background", () => palette.update()],
    ["change:labels", () => void loadLabels()],
    ["change:width", () => { showSize(); void loadLabels(); }],
    ["change:height", () => { showSize(); void loadLabels(); }],
    ["change:background_image", showPhoto],
    ["change:snapshot", showSnapshot],
    // ipywidgets' comm liveness (JupyterLab, Notebook 7): a closed comm means no kernel behind this view
    ["comm_live_update", () => (host.classList.contains(DISCONNECTED_CLASS) ? status.lost("host") : hello())],
  ];
  for (const [event, handler] of handlers) model.on(event, handler);
  const hello = () => {
    const shown = frames.epoch !== null && frames.shownSeq !== null ? { epoch: frames.epoch, seq: frames.shownSeq } : {};
    if (send({ kind: "hello", version: PROTOCOL_VERSION, ...shown })) status.waitForWelcome();
  };
  const heartbeat = setInterval(() => status.heartbeatDue() && hello(), HEARTBEAT_MS / 3);
  showSize();
  showSnapshot();
  showPhoto();
  palette.update();
  void loadLabels();
  if (model.get("protocol_version") !== PROTOCOL_VERSION) {
    status.error(`kernel speaks protocol ${model.get("protocol_version")}, this view ${PROTOCOL_VERSION}: reload the page`);
  }
  hello();

  let disposed = false;
  const cleanup = () => {
    if (disposed) return;
    disposed = true;
    controller.abort();
    for (const [event, handler] of handlers) model.off(event as `change:${string}`, handler);
    clearInterval(heartbeat);
    sync.dispose();
    status.dispose();
    frames.dispose();
    if (photoUrl) URL.revokeObjectURL(photoUrl);
  };
  return cleanup;
}

export default { render };
