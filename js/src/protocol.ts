// Wire protocol, version 2. The messages, the status and the synced traits are generated from
// semanticdraw_widgets/widgets/protocol.py into ./protocol.generated.ts (re-exported here); the brush schema
// below is checked against Python by tests/test_protocol_sync.py. See docs/protocol.md.

export * from "./protocol.generated";

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

const NEW_BRUSH_COLORS = ["#d9503f", "#3fae4a", "#f2c230", "#2d6fd6", "#9b4fd1", "#e07b24", "#22a6a6", "#8a8a8a"];

/** The brush the "+ brush" button adds at `index` (0-based): the defaults with a name and a distinct colour. */
export function newBrush(index: number): Brush {
  return { ...BRUSH_DEFAULTS, name: `brush ${index + 1}`, color: NEW_BRUSH_COLORS[index % NEW_BRUSH_COLORS.length] };
}
