// The status line. It must tell the truth: the status trait is the kernel's last word, which a notebook
// saved with widget state replays although no kernel runs, so the line only shows it as live once the
// kernel has answered this view's hello (a welcome), or once anything else arrives from the kernel.

import { el } from "./dom";
import { noPromptWarning, type Brush, type Status } from "./protocol";

/** Where this view stands with its kernel. */
export type Connection = "connecting" | "live" | "disconnected";
/** How a view learnt that its kernel is gone (the status line's data-reason): the host said so (a closed comm,
 * a shut-down kernel), a message could not be sent, or a hello went unanswered. */
export type LostReason = "host" | "send" | "silence";

export const CONNECTING_TEXT = "connecting…";
export const DISCONNECTED_TEXT = "disconnected: no kernel is running this widget — run the notebook's cells again";
/** How long a view waits for the kernel's welcome before it says the kernel is gone. */
export const WELCOME_TIMEOUT_MS = 6000;
/** A live view that heard nothing from its kernel for this long asks again (a restarted kernel closes no
 * comm in JupyterLab, so only silence tells that nobody is there any more). */
export const HEARTBEAT_MS = 15000;
/** ipywidgets puts this class on a view whose model has no live comm (jupyterlab-manager's DOMWidgetView). */
export const DISCONNECTED_CLASS = "jupyter-widgets-disconnected";
/** How often a view asks its host whether the kernel is still there (a cheap property read, no message). */
export const KERNEL_CHECK_MS = 1000;
const GONE_KERNEL_STATES = ["dead", "restarting", "autorestarting", "terminating"];

/** Whether the host's widget manager knows its kernel is gone. JupyterLab's and Notebook 7's manager has a
 * `kernel` (null once the kernel is shut down, `status` "dead" or "restarting" on the way); their
 * manager sets no `comm_live` on a shut-down kernel, so without this a view learns it only from an unanswered
 * hello. Duck-typed: a host whose manager has no `kernel` (Colab, VS Code) just never says so. */
export function kernelGone(manager: unknown): boolean {
  if (typeof manager !== "object" || manager === null || !("kernel" in manager)) return false;
  let kernel: unknown;
  try {
    kernel = (manager as { kernel: unknown }).kernel;
  } catch {
    return false;
  }
  if (kernel === null || kernel === undefined) return true;
  const { isDisposed, status } = kernel as { isDisposed?: unknown; status?: unknown };
  return isDisposed === true || (typeof status === "string" && GONE_KERNEL_STATES.includes(status));
}

/** The warning for painting with a brush that has no prompt (null when it has one): the kernel's wording. */
export function emptyPromptWarning(brushes: Brush[], label: number): string | null {
  const brush = brushes[label - 1];
  return brush && !brush.prompt.trim() ? noPromptWarning(brush.name) : null;
}

export interface StatusLineText {
  state: string; // data-state of the line: the stream state when live, else the connection
  text: string;
  error: string; // "" when none
  warning: string; // "" when none
}

/** What the status line says, from the kernel's status, the connection and this view's own messages. */
export function describeStatus(status: Status, connection: Connection,
  local: { error?: string | null; warning?: string | null } = {}): StatusLineText {
  const kernelWarning = connection === "live" ? status.warning : null;
  // The kernel names brushes with strokes but no prompt too, once the strokes reach it, in the same words
  // (protocol.NO_PROMPT_WARNING); this view says so at the first stroke. Show it once, not twice.
  const localWarning = local.warning && kernelWarning?.includes(local.warning) ? null : local.warning;
  const warnings = [localWarning, kernelWarning].filter(Boolean);
  if (connection !== "live") {
    return { state: connection, text: connection === "connecting" ? CONNECTING_TEXT : DISCONNECTED_TEXT,
      error: local.error ?? "", warning: warnings.join(" · ") };
  }
  const counters = status.state === "streaming" || status.state === "idle" || status.state === "paused"
    ? ` · ${status.fps.toFixed(1)} frames/s · tick ${status.tick}` : "";
  return { state: status.state, text: `${status.state}${counters}`, error: local.error || status.error || "",
    warning: warnings.join(" · ") };
}

export interface StatusSource {
  status(): Status;
  hostDisconnected(): boolean; // the host already knows the comm or the kernel is dead
  reconnected?(): void; // a view that was disconnected hears from its kernel again
}

/** The status line element and the connection state machine (a UI timer for the welcome). */
export class StatusLine {
  readonly element: HTMLDivElement;
  private readonly text = el("span", { className: "sdw-status-text" });
  private readonly errorText = el("span", { className: "sdw-error", role: "alert" });
  private readonly warningText = el("span", { className: "sdw-warning" });
  private connectionValue: Connection = "connecting";
  private timer: ReturnType<typeof setTimeout> | null = null;
  private localError: string | null = null;
  private localWarning: string | null = null;
  private lastKernelState = "";
  private lastHeard = Date.now();
  private hostCheck: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly source: StatusSource, private readonly timeoutMs = WELCOME_TIMEOUT_MS) {
    this.element = el("div", { className: "sdw-status" }, this.text, this.errorText, this.warningText);
    this.element.setAttribute("aria-live", "polite");
    this.waitForWelcome();
    this.checkHost();
  }

  /** Ask the host every KERNEL_CHECK_MS whether the kernel is gone, so a shut-down kernel shows at once. */
  private checkHost(): void {
    if (this.connectionValue !== "disconnected" && this.source.hostDisconnected()) this.lost("host");
    this.hostCheck = setTimeout(() => this.checkHost(), KERNEL_CHECK_MS);
  }

  get connection(): Connection {
    return this.connectionValue;
  }

  /** A hello went out: wait for the welcome (or say at once that ipywidgets knows there is no kernel). */
  waitForWelcome(): void {
    this.clearTimer();
    if (this.source.hostDisconnected()) {
      this.lost("host");
      return;
    }
    if (this.connectionValue !== "live") this.setConnection("connecting");
    this.timer = setTimeout(() => { // alive() cancels this: nothing came from the kernel since the hello
      this.timer = null;
      this.lost("silence");
    }, this.timeoutMs);
  }

  /** Something arrived from the kernel (a welcome, a frame, a status change): it is alive. */
  alive(): void {
    const was = this.connectionValue;
    this.lastHeard = Date.now();
    this.clearTimer();
    this.setConnection("live");
    if (was === "disconnected") this.source.reconnected?.();
  }

  /** Whether a live view has heard nothing for `HEARTBEAT_MS` and no welcome is awaited: time to say hello. */
  heartbeatDue(): boolean {
    return this.connectionValue === "live" && this.timer === null && Date.now() - this.lastHeard >= HEARTBEAT_MS;
  }

  /** The comm is known to be closed. */
  lost(reason: LostReason): void {
    this.clearTimer();
    this.element.dataset.reason = reason;
    this.setConnection("disconnected");
  }

  /** This view's own error (a message from the kernel, a file it could not read); null clears it. */
  error(message: string | null): void {
    this.localError = message;
    if (message) console.warn(`[semanticdraw] ${message}`);
    this.show();
  }

  /** This view's own warning (say, painting with a brush that has no prompt); null clears it. */
  warning(message: string | null): void {
    this.localWarning = message;
    this.show();
  }

  get warningMessage(): string | null {
    return this.localWarning;
  }

  /** Re-read the status trait. A new kernel state or error replaces this view's own error. */
  show(): void {
    const status = this.source.status();
    const kernelState = `${status.state}\n${status.error ?? ""}`;
    if (this.lastKernelState && kernelState !== this.lastKernelState) this.localError = null;
    this.lastKernelState = kernelState;
    const line = describeStatus(status, this.connectionValue, { error: this.localError, warning: this.localWarning });
    this.text.textContent = line.text;
    this.errorText.textContent = line.error ? `⚠ ${line.error}` : "";
    this.warningText.textContent = line.warning ? `ⓘ ${line.warning}` : "";
    this.element.dataset.state = line.state;
    this.element.dataset.connection = this.connectionValue;
  }

  private setConnection(connection: Connection): void {
    this.connectionValue = connection;
    this.show();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  dispose(): void {
    this.clearTimer();
    if (this.hostCheck) clearTimeout(this.hostCheck);
    this.hostCheck = null;
  }
}
