import { afterEach, describe, expect, it, vi } from "vitest";
import { photoFormat, Toolbar, type ToolbarActions } from "../src/toolbar";

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];

function setup() {
  const actions: ToolbarActions = {
    playing: () => true, stopped: () => false, seed: () => 1234567890, steps: () => 4, guidance: () => 1,
    undo: vi.fn(), redo: vi.fn(), clear: vi.fn(), togglePlaying: vi.fn(), step: vi.fn(), setSeed: vi.fn(),
    setSteps: vi.fn(), setGuidance: vi.fn(), setPhoto: vi.fn(), toolChanged: vi.fn(), refuse: vi.fn(),
  };
  const toolbar = new Toolbar(actions, new AbortController().signal);
  document.body.append(toolbar.element);
  const upload = async (name: string, bytes: number[]) => {
    const input = toolbar.element.querySelector<HTMLInputElement>("input[type=file]")!;
    Object.defineProperty(input, "files", { value: [new File([new Uint8Array(bytes)], name)], configurable: true });
    input.dispatchEvent(new Event("change"));
    await vi.waitFor(() => expect(vi.mocked(actions.setPhoto).mock.calls.length
      + vi.mocked(actions.refuse).mock.calls.length).toBeGreaterThan(0));
  };
  return { toolbar, actions, upload };
}

describe("toolbar", () => {
  afterEach(() => document.body.replaceChildren());

  it("tells photos from other files by their first bytes", () => {
    expect(photoFormat(new Uint8Array(PNG))).toBe("png");
    expect(photoFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe("jpeg");
    expect(photoFormat(new TextEncoder().encode("RIFF\u0000\u0000\u0000\u0000WEBPVP8 "))).toBe("webp");
    expect(photoFormat(new TextEncoder().encode("RIFF\u0000\u0000\u0000\u0000WAVEfmt "))).toBeNull();
    expect(photoFormat(new TextEncoder().encode("%PDF-1.7"))).toBeNull();
    expect(photoFormat(new Uint8Array())).toBeNull();
  });

  it("refuses a file that is not a photo in the view, with its name, and sends nothing", async () => {
    const { actions, upload } = setup();
    await upload("notes.pdf", [...new TextEncoder().encode("%PDF-1.7 not a photo")]);
    expect(actions.setPhoto).not.toHaveBeenCalled();
    expect(vi.mocked(actions.refuse).mock.calls[0][0]).toContain('"notes.pdf" is not a PNG, JPEG or WebP photo');
  });

  it("sends a photo's bytes", async () => {
    const { actions, upload } = setup();
    await upload("sky.png", PNG);
    expect(new Uint8Array(vi.mocked(actions.setPhoto).mock.calls[0][0] as ArrayBuffer)).toEqual(new Uint8Array(PNG));
  });
});
