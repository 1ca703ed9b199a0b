// Small DOM helpers shared by the view modules.

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** A button that calls `onClick`; `title` is also its accessible name when its text is a symbol. */
export function button(text: string, title: string, onClick: () => void, signal: AbortSignal): HTMLButtonElement {
  const b = el("button", { textContent: text, title, type: "button" });
  b.setAttribute("aria-label", title);
  b.addEventListener("click", onClick, { signal });
  return b;
}

export function bytesOf(view: DataView | null | undefined): Uint8Array {
  return view ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : new Uint8Array();
}

/** Set a control's value, except a text field the user is typing in (an echo must not clobber typing);
 * a refused value the kernel puts back does show in a focused menu, slider or number field. */
export function setValue(input: HTMLInputElement | HTMLSelectElement, value: string): void {
  const typing = input instanceof HTMLInputElement && input.type === "text" && document.activeElement === input;
  if (input.value !== value && !typing) input.value = value;
}
