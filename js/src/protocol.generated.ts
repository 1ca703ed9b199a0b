// GENERATED from semanticdraw_widgets/widgets/protocol.py by
// `python -m semanticdraw_widgets.widgets.protocol_codegen --write`: do not edit; change the schema there.

import type { BackgroundState, Brush } from "./protocol";

export const PROTOCOL_VERSION = 2;
export const STATES = ["stopped", "streaming", "idle", "paused", "error"] as const;
export type StreamState = (typeof STATES)[number];
export const COMMANDS = ["step"] as const;
/** Traits the browser may change; the kernel refuses a browser write to any other. */
export const BROWSER_WRITABLE = ["background", "background_image", "brushes", "guidance", "labels", "playing", "seed", "steps"] as const;
export const NO_PROMPT_WARNING = "brush \"{name}\" has no prompt: its strokes paint nothing until you give it one";
/** The one wording of the warning for a painted brush that has no prompt. */
export const noPromptWarning = (name: string): string => NO_PROMPT_WARNING.replace("{name}", name);

/** The kernel's status trait: read-only for the browser. */
export interface Status {
  state: "stopped" | "streaming" | "idle" | "paused" | "error"; // what the stream does
  fps: number; // frames per second over the last second of streaming
  tick: number; // model ticks run so far
  error: string | null; // why the stream or the last input failed
  epoch: number; // the stream generation; frames of an older epoch belong to a stopped stream
  warning: string | null; // what the user should know although nothing failed (prompt-less brushes, ignored words)
}

/** Traits synced with the Python widget. */
export interface Model {
  width: number; // kernel: canvas size in pixels (the label map and every frame)
  height: number; // kernel: canvas size in pixels
  brushes: Brush[]; // both: brush i paints label i + 1; at most MAX_BRUSHES
  background: BackgroundState; // both: the background layer: {prompt, negative_prompt}
  labels: DataView; // browser: zlib-compressed uint8 label map, row-major height x width: 0 = background, i = brushes[i - 1]; synced at stroke end and throttled during a stroke
  background_image: DataView; // both: PNG/JPEG bytes of a photo to inpaint into; empty = none
  seed: number; // both: the noise seed
  steps: number; // both: denoising steps of the stream
  guidance: number; // both: classifier-free guidance scale
  playing: boolean; // both: play or pause the stream
  status: Status; // kernel: what the stream does (see the status fields)
  snapshot: DataView; // kernel: the newest picture, about once a second (what a reopened notebook shows)
  snapshot_mime: string; // kernel: the snapshot's image type
  protocol_version: number; // kernel: the protocol version the kernel speaks
}

// -- kernel -> browser
/** one picture of the stream */
export interface FrameMessage {
  kind: "frame";
  epoch: number; // stream generation: a new one restarts the numbering
  seq: number; // 1, 2, ... within the epoch
  mime: "image/jpeg" | "image/png"; // JPEG while streaming, PNG once settled
  width: number; // picture width
  height: number; // picture height
  settled: boolean; // the lossless finished picture
  tick: number; // the model tick that made it
  step: number; // denoising steps behind it
}
/** the answer to every hello: the kernel is alive */
export interface WelcomeMessage {
  kind: "welcome";
  version: number; // the kernel's PROTOCOL_VERSION
  epoch: number; // the current stream, 0 when none runs
}
/** a refused input or a failed request */
export interface ErrorMessage {
  kind: "error";
  message: string; // what was refused and why
}
export type ServerMessage = FrameMessage | WelcomeMessage | ErrorMessage;

// -- browser -> kernel
/** the view has painted frame seq of that epoch */
export interface AckMessage {
  kind: "ack";
  epoch: number; // the stream of the frame
  seq: number; // the newest painted frame; cumulative: every earlier one of the epoch too
}
/** `step`: one tick while paused */
export interface CommandMessage {
  kind: "command";
  name: "step"; // what to do
}
/** a view (re)connected, or checks the kernel is still there; answered with a welcome, and with the newest frame unless the view shows it already (at most one frame per view per `HELLO_FRAME_INTERVAL` seconds: repeated hellos are coalesced) */
export interface HelloMessage {
  kind: "hello";
  version: number; // the view's PROTOCOL_VERSION
  epoch?: number; // the stream of the frame the view shows
  seq?: number; // the frame the view shows
}
export type ClientMessage = AckMessage | CommandMessage | HelloMessage;

const isUint = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 53;
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";

export function isServerMessage(value: unknown): value is ServerMessage {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  switch (m.kind) {
    case "frame":
      return isUint(m.epoch) && isUint(m.seq) && ["image/jpeg", "image/png"].includes(m.mime as string) && isUint(m.width) && isUint(m.height) && isBoolean(m.settled) && isUint(m.tick) && isUint(m.step);
    case "welcome":
      return isUint(m.version) && isUint(m.epoch);
    case "error":
      return isString(m.message);
    default:
      return false;
  }
}

export function isClientMessage(value: unknown): value is ClientMessage {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  switch (m.kind) {
    case "ack":
      return isUint(m.epoch) && isUint(m.seq);
    case "command":
      return ["step"].includes(m.name as string);
    case "hello":
      return isUint(m.version) && (m.epoch === undefined || isUint(m.epoch)) && (m.seq === undefined || isUint(m.seq)) && new Set([m.epoch === undefined, m.seq === undefined]).size === 1;
    default:
      return false;
  }
}

export function isStatus(value: unknown): value is Status {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Record<string, unknown>;
  return ["stopped", "streaming", "idle", "paused", "error"].includes(s.state as string) && isNumber(s.fps) && isUint(s.tick) && (s.error === null || isString(s.error)) && isUint(s.epoch) && (s.warning === null || isString(s.warning));
}
