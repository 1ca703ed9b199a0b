// Wire protocol, version 2: the TypeScript mirror of semanticdraw_widgets/widgets/protocol.py
// (tests/test_protocol_sync.py checks that the constants below equal Python's). Durable state lives in
// model traits; frames, acks, hello/welcome and commands are custom messages with a "kind". See docs/protocol.md.

export const PROTOCOL_VERSION = 2;

// The brush schema and the settings' limits are generated from the field table into ./fields
// (python -m semanticdraw_widgets.fieldgen --write); re-exported so `from "./protocol"` keeps working.
import { BRUSH_DEFAULTS, type Brush } from "./fields";
export { BRUSH_DEFAULTS, BRUSH_LIMITS, GUIDANCE_LIMITS, MAX_BRUSHES, MAX_TEXT_LENGTH, STEPS_CHOICES } from "./fields";
export type { Brush, BrushNumberField } from "./fields";
export const PALETTE_FORMAT = "semanticdraw-palette";
export const PALETTE_VERSION = 1;

export interface BackgroundState {
  prompt: string;
  negative_prompt: string;
}

export const STATES = ["stopped", "starting", "streaming", "idle", "paused", "error"] as const;
export type StreamState = (typeof STATES)[number];

/** The kernel's status trait: read-only for the browser. */
export interface Status {
  state: StreamState;
  fps: number;
  tick: number;
  error: string | null;
  epoch: number; // stream generation; frames of an older epoch belong to a stopped stream
  warning: string | null; // e.g. words the model ignored
}

/** Traits synced with the Python widget. */
export interface Model {
  width: number;
  height: number;
  brushes: Brush[];
  background: BackgroundState;
  labels: DataView; // zlib-compressed uint8 label map: 0 background, i = brushes[i - 1]
  background_image: DataView; // PNG/JPEG bytes of an uploaded photo to inpaint into, or empty
  seed: number;
  steps: number;
  guidance: number;
  playing: boolean;
  status: Status;
  snapshot: DataView;
  snapshot_mime: string;
  protocol_version: number;
}

// -- kernel -> browser -------------------------------------------------------------------------
export interface FrameMessage {
  kind: "frame";
  epoch: number; // stream generation: a new one restarts the numbering
  seq: number; // 1, 2, ... within the epoch
  mime: string;
  width: number;
  height: number;
  settled: boolean;
  tick: number;
  step: number;
}
export interface ErrorMessage {
  kind: "error";
  message: string;
}
/** The reply to every hello: proves a live kernel. */
export interface WelcomeMessage {
  kind: "welcome";
  version: number;
  epoch: number; // the current stream generation, 0 when not streaming
}
export type ServerMessage = FrameMessage | ErrorMessage | WelcomeMessage;

// -- browser -> kernel -------------------------------------------------------------------------
export type ClientMessage =
  | { kind: "ack"; epoch: number; seq: number } // cumulative within the epoch: every frame up to seq
  | { kind: "command"; name: "step" }
  // epoch/seq: the frame this view shows, if any, so the kernel resends its newest frame only when it is newer
  | { kind: "hello"; version: number; epoch?: number; seq?: number };

const isInt = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value) && value >= 0;

export function isServerMessage(value: unknown): value is ServerMessage {
  if (typeof value !== "object" || value === null) return false;
  const message = value as Record<string, unknown>;
  switch (message.kind) {
    case "frame":
      return isInt(message.epoch) && isInt(message.seq) && typeof message.mime === "string";
    case "error":
      return typeof message.message === "string";
    case "welcome":
      return isInt(message.version) && isInt(message.epoch);
    default:
      return false;
  }
}

const NEW_BRUSH_COLORS = ["#d9503f", "#3fae4a", "#f2c230", "#2d6fd6", "#9b4fd1", "#e07b24", "#22a6a6", "#8a8a8a"];

/** The brush the "+ brush" button adds at `index` (0-based): the defaults with a name and a distinct colour. */
export function newBrush(index: number): Brush {
  return { ...BRUSH_DEFAULTS, name: `brush ${index + 1}`, color: NEW_BRUSH_COLORS[index % NEW_BRUSH_COLORS.length] };
}
