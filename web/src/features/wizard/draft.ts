// The wizard's draft: a template plus dotted-path overrides, exactly what the API takes.
import { overridePath } from "@/api/client";
import type { FieldProblem, Json, JsonObject, RecipeInput } from "@/api/types";

export interface Draft {
  template: string;
  overrides: Record<string, Json>;
}

export function recipeInput(draft: Draft): RecipeInput {
  return { template: draft.template, overrides: draft.overrides };
}

/** Set (or with undefined, drop) one override; a new object, so React sees the change. */
export function withOverride(draft: Draft, path: string, value: Json | undefined): Draft {
  const overrides = { ...draft.overrides };
  if (value === undefined) delete overrides[path];
  else overrides[path] = value;
  return { ...draft, overrides };
}

/** A dotted path's value in a recipe object ('growth.0.options.r'). */
export function valueAt(recipe: JsonObject | null, path: string): Json | undefined {
  let node: Json | undefined = recipe ?? undefined;
  for (const part of path.split(".")) {
    if (node === null || node === undefined || typeof node !== "object") return undefined;
    node = Array.isArray(node) ? node[Number(part)] : node[part];
  }
  return node;
}

/** The value a field shows: the override when set, else what the validated recipe holds. */
export function currentValue(draft: Draft, recipe: JsonObject | null, path: string): Json | undefined {
  return path in draft.overrides ? draft.overrides[path] : valueAt(recipe, path);
}

/** Whether a problem (at `problemPath`) belongs to the field at `fieldPath`. */
export function problemMatches(problemPath: string, fieldPath: string): boolean {
  const p = overridePath(problemPath);
  return p === fieldPath || fieldPath.startsWith(`${p}.`) || p.startsWith(`${fieldPath}.`);
}

export function problemsFor(problems: readonly FieldProblem[], fieldPath: string): FieldProblem[] {
  return problems.filter((p) => problemMatches(p.path, fieldPath));
}

/** Problems no shown field claims: listed above the step so none is lost. */
export function unclaimed(problems: readonly FieldProblem[], fieldPaths: readonly string[]): FieldProblem[] {
  return problems.filter((p) => !fieldPaths.some((f) => problemMatches(p.path, f)));
}
