// The widget's keyboard. Keys typed into the widget are the widget's: the host's shortcuts (JupyterLab's
// and Notebook 7's Enter, Ctrl+Z, a, b, dd...) must not act on them. Lumino stops looking for a shortcut
// at an element with data-lm-suppress-shortcuts, whichever phase it listens in (Notebook 7 takes Ctrl+Z
// before the widget sees it otherwise); stopPropagation covers other hosts. A few host shortcuts that mean
// nothing to the widget pass through (Ctrl/Cmd+S saves the notebook): for those the attribute is lifted
// before the host's listeners run, from a capture listener on the window, which runs before any other.

export interface KeyboardActions {
  undo(): void;
  redo(): void;
}

const SUPPRESS = "data-lm-suppress-shortcuts";

/** Host shortcuts the widget lets through: Ctrl/Cmd+S (save) and Ctrl/Cmd+Shift+S (save as). */
export function isHostShortcut(e: KeyboardEvent): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "s";
}

export function installKeyboard(root: HTMLElement, actions: KeyboardActions, signal: AbortSignal): void {
  root.setAttribute(SUPPRESS, "true");
  const view = root.ownerDocument.defaultView;
  view?.addEventListener("keydown", (e) => {
    if (!isHostShortcut(e) || !(e.target instanceof Node) || !root.contains(e.target)) return;
    root.removeAttribute(SUPPRESS);
    // back once this event is handled everywhere (a microtask would run before the host's listeners)
    view.setTimeout(() => root.setAttribute(SUPPRESS, "true"), 0);
  }, { capture: true, signal });
  root.addEventListener("keydown", (e) => {
    if (isHostShortcut(e)) return; // the host's: neither stopped nor handled here
    const target = e.target as HTMLElement;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement) {
      // Enter commits a field (inside JupyterLab the browser's own change-on-Enter never comes) and hands
      // the keyboard back to the widget, so Ctrl+Z right after it undoes a stroke, not the typing
      if (e.key === "Enter" && target instanceof HTMLInputElement && (target.type === "text" || target.type === "number")) {
        target.dispatchEvent(new Event("change"));
        root.focus({ preventScroll: true });
        e.preventDefault();
      }
      e.stopPropagation();
      return;
    }
    e.stopPropagation();
    if (!(e.ctrlKey || e.metaKey)) return;
    const key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) actions.undo();
    else if ((key === "z" && e.shiftKey) || key === "y") actions.redo();
    else return;
    e.preventDefault();
  }, { signal });
}
