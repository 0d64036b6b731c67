// Following a job's event stream, resuming where it left off.
//
// EventSource already reconnects by itself after a dropped connection and sends Last-Event-ID.
// It gives up for good (readyState CLOSED) on an HTTP error or a refused connection, e.g. while
// the service restarts. Then a fresh EventSource is opened with `?after=<last seq>` after a
// growing pause. Events are deduplicated by seq, and the `end` message stops everything.
import type { JobView } from "@/api/types";
import { isRunEvent, type RunEvent } from "./events";

export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((this: EventSourceLike, event: Event) => unknown) | null;
  onmessage: ((this: EventSourceLike, event: MessageEvent) => unknown) | null;
  onerror: ((this: EventSourceLike, event: Event) => unknown) | null;
  addEventListener(type: "end", listener: (event: MessageEvent) => void): void;
  close(): void;
}

export type StreamState = "connecting" | "open" | "reconnecting" | "ended" | "stopped";

export interface StreamHandlers {
  onEvent(event: RunEvent): void;
  onEnd(job: JobView): void;
  onState(state: StreamState, detail?: string): void;
}

export interface StreamOptions {
  /** Opens an EventSource; tests pass a fake. */
  open?: (url: string) => EventSourceLike;
  /** Pauses before reopening a closed stream, in ms; the last one repeats. */
  retryMs?: readonly number[];
  /** Asked after the stream closed: a plain-words reason to stop (bad token, no such job), or null. */
  diagnose?: () => Promise<string | null>;
  schedule?: (callback: () => void, ms: number) => unknown;
  cancel?: (handle: unknown) => void;
}

const CLOSED = 2;
export const RETRY_MS = [1000, 2000, 4000, 8000, 15000] as const;

export class JobStream {
  lastSeq = -1;
  private source: EventSourceLike | null = null;
  private failures = 0;
  private timer: unknown = null;
  private done = false;
  private readonly open: (url: string) => EventSourceLike;
  private readonly retryMs: readonly number[];
  private readonly schedule: (callback: () => void, ms: number) => unknown;
  private readonly cancel: (handle: unknown) => void;

  constructor(
    private readonly urlFor: (after?: number) => string,
    private readonly handlers: StreamHandlers,
    private readonly options: StreamOptions = {},
  ) {
    this.open = options.open ?? ((url) => new EventSource(url) as unknown as EventSourceLike);
    this.retryMs = options.retryMs ?? RETRY_MS;
    this.schedule = options.schedule ?? ((callback, ms) => setTimeout(callback, ms));
    this.cancel = options.cancel ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
  }

  start(): this {
    this.connect();
    return this;
  }

  stop(): void {
    this.done = true;
    if (this.timer !== null) this.cancel(this.timer);
    this.timer = null;
    this.source?.close();
    this.source = null;
  }

  private connect(): void {
    this.timer = null;
    if (this.done) return;
    this.handlers.onState(this.failures === 0 ? "connecting" : "reconnecting");
    const source = this.open(this.urlFor(this.lastSeq >= 0 ? this.lastSeq : undefined));
    this.source = source;
    source.onopen = () => {
      this.failures = 0;
      this.handlers.onState("open");
    };
    source.onmessage = (message) => this.receive(message.data);
    source.addEventListener("end", (message) => this.finish(message.data));
    source.onerror = () => {
      if (this.done || source !== this.source) return;
      if (source.readyState !== CLOSED) {
        this.handlers.onState("reconnecting"); // the browser retries by itself, with Last-Event-ID
        return;
      }
      source.close();
      this.source = null;
      void this.retry();
    };
  }

  private receive(data: unknown): void {
    let event: unknown;
    try {
      event = JSON.parse(String(data));
    } catch {
      return;
    }
    if (!isRunEvent(event) || event.seq <= this.lastSeq) return; // replayed: already seen
    this.lastSeq = event.seq;
    this.handlers.onEvent(event);
  }

  private finish(data: unknown): void {
    this.stop();
    this.handlers.onState("ended");
    try {
      this.handlers.onEnd(JSON.parse(String(data)) as JobView);
    } catch {
      // an end without a readable job still ends the stream
    }
  }

  private async retry(): Promise<void> {
    const reason = this.options.diagnose ? await this.options.diagnose().catch(() => null) : null;
    if (this.done) return;
    if (reason) {
      this.stop();
      this.handlers.onState("stopped", reason);
      return;
    }
    const pause = this.retryMs[Math.min(this.failures, this.retryMs.length - 1)] ?? 1000;
    this.failures += 1;
    this.handlers.onState("reconnecting", `connection lost; trying again in ${Math.round(pause / 1000)} s`);
    this.timer = this.schedule(() => this.connect(), pause);
  }
}
