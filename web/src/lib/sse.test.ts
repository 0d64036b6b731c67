import type { EventSourceLike, StreamHandlers, StreamState } from "./sse";
import { JobStream } from "./sse";

class FakeSource implements EventSourceLike {
  readyState = 0;
  onopen: EventSourceLike["onopen"] = null;
  onmessage: EventSourceLike["onmessage"] = null;
  onerror: EventSourceLike["onerror"] = null;
  ends: ((event: MessageEvent) => void)[] = [];
  closed = false;
  constructor(readonly url: string) {}
  addEventListener(_: "end", listener: (event: MessageEvent) => void) {
    this.ends.push(listener);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.call(this, new Event("open"));
  }
  send(seq: number) {
    const data = JSON.stringify({ id: `e${seq}`, type: "StepLogged", run_id: "r", seq, step: seq, segment: 0, time: "", data: {} });
    this.onmessage?.call(this, new MessageEvent("message", { data }));
  }
  drop(readyState: 0 | 2) {
    this.readyState = readyState;
    this.onerror?.call(this, new Event("error"));
  }
  end() {
    this.ends.forEach((l) => l(new MessageEvent("end", { data: JSON.stringify({ id: "job-1", status: "completed" }) })));
  }
}

function setup(diagnose?: () => Promise<string | null>) {
  const sources: FakeSource[] = [];
  const timers: { ms: number; run: () => void }[] = [];
  const seen: number[] = [];
  const states: StreamState[] = [];
  const ended: string[] = [];
  const handlers: StreamHandlers = {
    onEvent: (e) => seen.push(e.seq),
    onEnd: (job) => ended.push(job.status),
    onState: (s) => states.push(s),
  };
  const stream = new JobStream((after) => `/events${after === undefined ? "" : `?after=${after}`}`, handlers, {
    open: (url) => {
      const source = new FakeSource(url);
      sources.push(source);
      return source;
    },
    retryMs: [100, 200, 400],
    diagnose,
    schedule: (run, ms) => timers.push({ ms, run }),
    cancel: () => undefined,
  }).start();
  return { stream, sources, timers, seen, states, ended };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("JobStream", () => {
  it("passes each event once, even when a reconnect replays some", () => {
    const { sources, seen } = setup();
    const s = sources[0] as FakeSource;
    s.open();
    [0, 1, 2, 1, 2, 3].forEach((n) => s.send(n));
    expect(seen).toEqual([0, 1, 2, 3]);
  });

  it("leaves a dropped connection to the browser while it retries by itself (Last-Event-ID)", () => {
    const { sources, timers, states } = setup();
    (sources[0] as FakeSource).open();
    (sources[0] as FakeSource).drop(0);
    expect(sources).toHaveLength(1);
    expect(timers).toHaveLength(0);
    expect(states.at(-1)).toBe("reconnecting");
  });

  it("reopens a closed stream after the last seen event, waiting longer each time", async () => {
    const { sources, timers, seen } = setup();
    const first = sources[0] as FakeSource;
    first.open();
    first.send(0);
    first.send(1);
    first.drop(2);
    await flush();
    expect(timers.map((t) => t.ms)).toEqual([100]);
    timers[0]?.run();
    expect(sources[1]?.url).toBe("/events?after=1");
    (sources[1] as FakeSource).drop(2); // the service is still down
    await flush();
    timers[1]?.run();
    (sources[2] as FakeSource).drop(2);
    await flush();
    timers[2]?.run();
    (sources[3] as FakeSource).drop(2);
    await flush();
    expect(timers.map((t) => t.ms)).toEqual([100, 200, 400, 400]);
    timers[3]?.run();
    const back = sources[4] as FakeSource;
    back.open();
    back.send(1); // replayed
    back.send(2);
    expect(seen).toEqual([0, 1, 2]);
    back.drop(2);
    await flush();
    expect(timers.at(-1)?.ms).toBe(100); // an open connection resets the backoff
  });

  it("stops with the reason when the service refuses (bad token, unknown job)", async () => {
    const { sources, timers, states } = setup(async () => "The service refused the access token.");
    (sources[0] as FakeSource).drop(2);
    await flush();
    expect(timers).toHaveLength(0);
    expect(states.at(-1)).toBe("stopped");
  });

  it("ends on the end message and never reconnects", async () => {
    const { sources, timers, ended, states } = setup();
    const s = sources[0] as FakeSource;
    s.open();
    s.end();
    expect(ended).toEqual(["completed"]);
    expect(s.closed).toBe(true);
    expect(states.at(-1)).toBe("ended");
    s.drop(2);
    await flush();
    expect(timers).toHaveLength(0);
  });
});
