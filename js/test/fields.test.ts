import { describe, expect, it } from "vitest";
import { BRUSH_DEFAULTS, BRUSH_LIMITS, FIELDS, fieldError, GUIDANCE_LIMITS, MAX_TEXT_LENGTH } from "../src/fields";
import { BRUSH_LIMITS as FROM_PROTOCOL } from "../src/protocol";

describe("fields (generated from semanticdraw_widgets/fields.py)", () => {
  it("derives the widget's limits from the one table", () => {
    expect(GUIDANCE_LIMITS).toEqual([FIELDS.guidance_scale.min, FIELDS.guidance_scale.max]);
    expect(BRUSH_LIMITS.mask_blur).toEqual([FIELDS.mask_blur.min, FIELDS.mask_blur.max]);
    expect(MAX_TEXT_LENGTH).toBe(FIELDS.prompt.maxLength);
    expect(FROM_PROTOCOL).toBe(BRUSH_LIMITS); // protocol.ts re-exports, it does not copy
    for (const [name, value] of Object.entries(BRUSH_DEFAULTS)) expect(fieldError(name as keyof typeof FIELDS, value)).toBeNull();
  });

  it("refuses what the kernel refuses, naming the field", () => {
    expect(fieldError("seed", true)).toMatch(/^seed must be an integer between 0 and 2\*\*63 - 1/);
    expect(fieldError("guidance_scale", 20.5, "guidance")).toMatch(/^guidance must be a finite number between 0 and 20/);
    expect(fieldError("guidance_scale", null)).toBeNull(); // None: the model's default
    expect(fieldError("mask_blur", Number.NaN)).toMatch(/mask_blur/);
    expect(fieldError("width", 100)).toMatch(/multiple of 8/);
    expect(fieldError("prompt", "x".repeat(MAX_TEXT_LENGTH + 1))).toMatch(/more than the 1000 allowed/);
    expect(fieldError("color", "red")).toMatch(/hex colour/);
    expect(fieldError("mask_mode", "fuzzy")).toMatch(/one of discrete, semi-continuous, continuous/);
  });
});
