// The facts two runs are compared on, read from their manifests.
import type { JsonObject } from "@/api/types";
import { asObject } from "@/features/charts/shape";
import { finite, text } from "@/lib/events";
import { formatDuration, formatNumber } from "@/lib/format";

type Read = (m: JsonObject) => string;

const metric = (model: string, key: string): Read => (m) => formatNumber(finite(asObject(asObject(m.metrics)?.[model])?.[key]), 4);
const passkey = (m: JsonObject) => {
  const table = asObject(asObject(asObject(m.metrics)?.grown)?.passkey);
  return table ? Object.entries(table).map(([len, acc]) => `${len}: ${formatNumber(finite(acc) === null ? null : (finite(acc) ?? 0) * 100)}%`).join(", ") : "—";
};

export const COMPARED: [string, Read][] = [
  ["status", (m) => text(m.status) || "—"],
  ["recipe", (m) => text(m.recipe_name) || "—"],
  ["base model", (m) => text(asObject(m.base_model)?.name) || text(asObject(m.base_model)?.source) || "—"],
  ["growth", (m) => (Array.isArray(m.growth) ? m.growth.map((g) => text(asObject(g)?.strategy)).join(" + ") : "—") || "—"],
  ["context", (m) => {
    const c = asObject(m.context);
    return c ? `${formatNumber(finite(c.native_length))} → ${formatNumber(finite(c.target_length))} (${text(c.engine)})` : "—";
  }],
  ["held-out loss, base", metric("base", "eval_loss")],
  ["held-out loss, grown", metric("grown", "eval_loss")],
  ["perplexity, base", metric("base", "eval_perplexity")],
  ["perplexity, grown", metric("grown", "eval_perplexity")],
  ["passkey, grown", passkey],
  ["duration", (m) => formatDuration(finite(m.duration_s))],
];

export function compareRows(left: JsonObject | null, right: JsonObject | null): { label: string; left: string; right: string; differs: boolean }[] {
  return COMPARED.map(([label, read]) => {
    const l = left ? read(left) : "—";
    const r = right ? read(right) : "—";
    return { label, left: l, right: r, differs: l !== r };
  });
}
