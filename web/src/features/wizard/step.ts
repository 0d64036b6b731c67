import type { FieldProblem, Json, JsonObject } from "@/api/types";
import type { Draft } from "./draft";

export interface StepProps {
  draft: Draft;
  recipe: JsonObject | null;
  schema: JsonObject | null;
  problems: FieldProblem[];
  set: (path: string, value: Json | undefined) => void;
  setMany: (values: Record<string, Json | undefined>) => void;
  setTemplate: (template: string) => void;
}
