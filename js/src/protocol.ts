// Wire protocol, version 1 — the TypeScript mirror of semanticdraw_widgets/widgets/protocol.py.
// Durable state lives in model traits; frames, acks and commands are custom messages with a "kind".

export const PROTOCOL_VERSION = 1;

export interface Brush {
  name: string;
  color: string; // CSS hex colour, e.g. "#d9503f"
  prompt: string;
  negative_prompt: string;
  prompt_strength: number;
  mask_strength: number;
  mask_blur: number;
  visible: boolean;
}

export interface BackgroundState {
  prompt: string;
  negative_prompt: string;
}

export interface Status {
  state: string;
  fps: number;
  tick: number;
  error: string | null;
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

// kernel -> browser
export interface FrameMessage {
  kind: "frame";
  seq: number;
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
export type ServerMessage = FrameMessage | ErrorMessage;

// browser -> kernel
export type ClientMessage =
  | { kind: "ack"; seq: number } // cumulative: acknowledges every frame up to seq
  | { kind: "command"; name: "step" }
  | { kind: "hello"; version: number };

export function isServerMessage(value: unknown): value is ServerMessage {
  if (typeof value !== "object" || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  if (kind === "frame") {
    const frame = value as Partial<FrameMessage>;
    return typeof frame.seq === "number" && typeof frame.mime === "string";
  }
  return kind === "error" && typeof (value as Partial<ErrorMessage>).message === "string";
}

export function newBrush(index: number): Brush {
  const colors = ["#d9503f", "#3fae4a", "#f2c230", "#2d6fd6", "#9b4fd1", "#e07b24", "#22a6a6", "#8a8a8a"];
  return {
    name: `brush ${index + 1}`,
    color: colors[index % colors.length],
    prompt: "",
    negative_prompt: "",
    prompt_strength: 1,
    mask_strength: 1,
    mask_blur: 0,
    visible: true,
  };
}
