// Wire protocol, version 2. The messages, the status and the synced traits are generated from
// semanticdraw_widgets/widgets/protocol.py into ./protocol.generated.ts (re-exported here); the brush schema
// below is checked against Python by tests/test_protocol_sync.py. See docs/protocol.md.

export * from "./protocol.generated";

// -- the brush schema: defined once here, used everywhere in the front end ---------------------
export const MAX_BRUSHES = 254; // label 0 is the background, so a uint8 label map holds 254 brushes
export const MAX_TEXT_LENGTH = 1000; // prompts, negative prompts and names
export const PALETTE_FORMAT = "semanticdraw-palette";
export const PALETTE_VERSION = 1;
export const GUIDANCE_LIMITS: readonly [number, number] = [0, 20];
export const STEPS_CHOICES: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8];

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

export type BrushNumberField = "prompt_strength" | "mask_strength" | "mask_blur";

export const BRUSH_DEFAULTS: Readonly<Brush> = {
  name: "brush",
  color: "#888888",
  prompt: "",
  negative_prompt: "",
  prompt_strength: 1,
  mask_strength: 1,
  mask_blur: 0,
  visible: true,
};

export const BRUSH_LIMITS: Readonly<Record<BrushNumberField, readonly [number, number]>> = {
  prompt_strength: [0, 1],
  mask_strength: [0, 1],
  mask_blur: [0, 64],
};

export interface BackgroundState {
  prompt: string;
  negative_prompt: string;
}

const NEW_BRUSH_COLORS = ["#d9503f", "#3fae4a", "#f2c230", "#2d6fd6", "#9b4fd1", "#e07b24", "#22a6a6", "#8a8a8a"];

/** The brush the "+ brush" button adds at `index` (0-based): the defaults with a name and a distinct colour. */
export function newBrush(index: number): Brush {
  return { ...BRUSH_DEFAULTS, name: `brush ${index + 1}`, color: NEW_BRUSH_COLORS[index % NEW_BRUSH_COLORS.length] };
}
