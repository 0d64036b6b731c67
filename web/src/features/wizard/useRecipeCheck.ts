// Live checks of the draft: validation soon after each change, the plan (a child process on the
// service, seconds long) debounced and one at a time: while one runs, only the newest draft waits.
import { useEffect, useRef, useState } from "react";
import { ApiError, type ApiClient } from "@/api/client";
import type { FieldProblem, JsonObject } from "@/api/types";
import { recipeInput, valueAt, type Draft } from "./draft";

export const VALIDATE_DELAY_MS = 250;
export const PLAN_DELAY_MS = 800;

export interface RecipeCheck {
  recipe: JsonObject | null;
  problems: FieldProblem[];
  message: string | null;
  validating: boolean;
}

export interface PlanState {
  plan: JsonObject | null;
  problems: FieldProblem[];
  message: string | null;
  planning: boolean;
  /** The plan shown was made for an earlier draft; a newer one is on its way. */
  stale: boolean;
}

function failure(error: unknown): { problems: FieldProblem[]; message: string } {
  if (error instanceof ApiError) return { problems: error.problems, message: error.message };
  return { problems: [], message: error instanceof Error ? error.message : String(error) };
}

export function useValidation(api: ApiClient, draft: Draft): RecipeCheck {
  const [check, setCheck] = useState<RecipeCheck>({ recipe: null, problems: [], message: null, validating: true });
  useEffect(() => {
    const controller = new AbortController();
    setCheck((c) => ({ ...c, validating: true }));
    const timer = setTimeout(() => {
      api
        .validate(recipeInput(draft), controller.signal)
        .then((r) => setCheck({ recipe: r.recipe as JsonObject, problems: [], message: null, validating: false }))
        .catch((error: unknown) => {
          if (controller.signal.aborted) return;
          setCheck((c) => ({ ...c, ...failure(error), validating: false }));
        });
    }, VALIDATE_DELAY_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [api, draft]);
  return check;
}

export function usePlan(api: ApiClient, draft: Draft, check: RecipeCheck): PlanState {
  const [state, setState] = useState<PlanState>({ plan: null, problems: [], message: null, planning: false, stale: false });
  const wanted = useRef<Draft | null>(null);
  const running = useRef(false);
  const ready = check.recipe !== null && check.problems.length === 0 && !check.validating;
  const hasData = Boolean(valueAt(check.recipe, "data.train")) || Boolean((valueAt(check.recipe, "data.sources") as unknown[] | undefined)?.length);

  useEffect(() => {
    if (!ready || !hasData) return;
    const timer = setTimeout(() => {
      wanted.current = draft;
      if (!running.current) void run();
    }, PLAN_DELAY_MS);
    setState((s) => ({ ...s, stale: s.plan !== null }));
    return () => clearTimeout(timer);

    async function run(): Promise<void> {
      running.current = true;
      while (wanted.current) {
        const current = wanted.current;
        wanted.current = null;
        setState((s) => ({ ...s, planning: true }));
        try {
          const result = await api.plan(recipeInput(current));
          setState({ plan: result.plan as JsonObject, problems: [], message: null, planning: false, stale: wanted.current !== null });
        } catch (error) {
          setState((s) => ({ ...s, ...failure(error), planning: false, stale: wanted.current !== null }));
        }
      }
      running.current = false;
    }
  }, [api, draft, ready, hasData]);
  return state;
}
