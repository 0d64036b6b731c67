// Linear scales and "nice" ticks for the SVG charts.

export interface Scale {
  (value: number): number;
  ticks: number[];
}

export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

export function linearScale(domain: [number, number], range: [number, number], tickCount = 5): Scale {
  let [lo, hi] = domain;
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.1 || 1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const step = niceStep(hi - lo, tickCount);
  const start = Math.floor(lo / step) * step;
  const end = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = start; t <= end + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  const [r0, r1] = range;
  const scale = ((value: number) => r0 + ((value - start) / (end - start || 1)) * (r1 - r0)) as Scale;
  scale.ticks = ticks;
  return scale;
}

/** A tick label with just the decimals its step needs (0.4741, 0.4742 rather than 0.474 twice). */
export function formatTick(value: number, ticks: readonly number[]): string {
  const step = ticks.length > 1 ? Math.abs((ticks[1] ?? 0) - (ticks[0] ?? 0)) : 1;
  const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(step || 1))));
  return Math.abs(value) >= 10000 ? Math.round(value).toLocaleString("en") : value.toFixed(decimals);
}
