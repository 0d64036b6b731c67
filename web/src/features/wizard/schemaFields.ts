// Field facts (title, description, bounds, choices, default) read from the recipe JSON Schema,
// so the sliders and selects follow the schema the service validates against.
import type { Json, JsonObject } from "@/api/types";

export interface FieldSpec {
  title: string;
  description: string;
  type: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  choices?: string[];
  default?: Json;
  nullable: boolean;
}

type SchemaNode = JsonObject;

function resolve(root: SchemaNode, node: SchemaNode): SchemaNode {
  const ref = node.$ref;
  if (typeof ref === "string" && ref.startsWith("#/$defs/")) {
    const defs = root.$defs as JsonObject | undefined;
    const target = defs?.[ref.slice("#/$defs/".length)];
    if (target && typeof target === "object" && !Array.isArray(target)) return resolve(root, target);
  }
  return node;
}

/** The non-null branch of `anyOf: [X, {type: null}]`, and whether null was allowed. */
function unwrap(root: SchemaNode, node: SchemaNode): { node: SchemaNode; nullable: boolean } {
  const options = Array.isArray(node.anyOf) ? (node.anyOf as JsonObject[]) : null;
  if (!options) return { node: resolve(root, node), nullable: false };
  const real = options.filter((o) => o.type !== "null");
  const first = real[0] ? resolve(root, real[0]) : {};
  return { node: { ...node, ...first }, nullable: real.length < options.length };
}

/** The schema node at a dotted path; list indexes ('growth.0') step into `items`. */
export function schemaAt(root: SchemaNode, path: string): { node: SchemaNode; nullable: boolean } | null {
  let current: { node: SchemaNode; nullable: boolean } = { node: root, nullable: false };
  for (const part of path.split(".")) {
    const node = current.node;
    let next: Json | undefined;
    if (/^\d+$/.test(part)) next = node.items;
    else next = (node.properties as JsonObject | undefined)?.[part];
    if (!next || typeof next !== "object" || Array.isArray(next)) return null;
    current = unwrap(root, next);
  }
  return current;
}

export function fieldSpec(root: SchemaNode | null, path: string, fallbackTitle = path): FieldSpec {
  const found = root ? schemaAt(root, path) : null;
  const node = found?.node ?? {};
  const num = (key: string) => (typeof node[key] === "number" ? (node[key] as number) : undefined);
  const spec: FieldSpec = {
    title: typeof node.title === "string" ? node.title : fallbackTitle,
    description: typeof node.description === "string" ? node.description : "",
    type: typeof node.type === "string" ? node.type : "string",
    nullable: found?.nullable ?? false,
  };
  const minimum = num("minimum");
  const maximum = num("maximum");
  const exclusiveMinimum = num("exclusiveMinimum");
  if (minimum !== undefined) spec.minimum = minimum;
  if (maximum !== undefined) spec.maximum = maximum;
  if (exclusiveMinimum !== undefined) spec.exclusiveMinimum = exclusiveMinimum;
  if (Array.isArray(node.enum)) spec.choices = node.enum.filter((v): v is string => typeof v === "string");
  else if (node.type === "array" && node.items && typeof node.items === "object" && !Array.isArray(node.items)) {
    const items = node.items as JsonObject;
    if (Array.isArray(items.enum)) spec.choices = items.enum.filter((v): v is string => typeof v === "string");
  }
  if ("default" in node) spec.default = node.default;
  return spec;
}
