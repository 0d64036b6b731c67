// A small typed client for the local service: token auth, JSON bodies, refusals as ApiError.
import type {
  ActionResult,
  DatasetInfo,
  FieldProblem,
  FileEntry,
  JobDetail,
  JobView,
  JsonObject,
  ModelInfo,
  PlanResult,
  RecipeChecked,
  RecipeInput,
  RollbackBody,
  RunSummary,
  TemplateDetail,
  TemplateInfo,
} from "./types";

/** A refusal from the service (or no answer at all: status 0), in plain words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly problems: FieldProblem[] = [],
  ) {
    super(plainWords(status, detail));
    this.name = "ApiError";
  }
}

export function plainWords(status: number, detail: string): string {
  switch (status) {
    case 0:
      return "The service does not answer. Is `scaler-wizard serve` still running?";
    case 401:
      return (
        "The service refused the access token. It changes every time the service starts: " +
        "open the address `scaler-wizard serve` printed, or paste the token from <workspace>/server/token."
      );
    case 413:
      return `The file is too large for the service: ${detail}`;
    case 415:
      return `This kind of file cannot be used: ${detail}`;
    case 504:
      return `The service took too long: ${detail}`;
    default:
      return detail || `The service answered ${status}.`;
  }
}

export interface RequestOptions {
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

export class ApiClient {
  constructor(
    readonly token: string,
    readonly base = "",
  ) {}

  async request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(this.base + path, { method, headers, body: payload, signal: options.signal });
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      throw new ApiError(0, "no answer");
    }
    const text = await response.text();
    if (!response.ok) throw refusal(response.status, text);
    const type = response.headers.get("content-type") ?? "";
    return (type.includes("json") ? JSON.parse(text) : text) as T;
  }

  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>("GET", path, undefined, options);
  }

  post<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>("POST", path, body, options);
  }

  // ---- service and recipes
  templates = () => this.get<TemplateInfo[]>("/api/templates");
  template = (name: string) => this.get<TemplateDetail>(`/api/templates/${encodeURIComponent(name)}`);
  recipeSchema = () => this.get<JsonObject>("/api/schema/recipe");
  validate = (input: RecipeInput, signal?: AbortSignal) =>
    this.post<RecipeChecked>("/api/recipes/validate", input, { signal });
  plan = (input: RecipeInput, signal?: AbortSignal) => this.post<PlanResult>("/api/recipes/plan", input, { signal });

  // ---- models and datasets
  models = () => this.get<ModelInfo[]>("/api/models");
  checkModel = (source: string) => this.post<ModelInfo>("/api/models/check", { source });
  datasets = () => this.get<DatasetInfo[]>("/api/datasets");
  upload = (file: File) => {
    const form = new FormData();
    form.append("file", file, file.name);
    return this.post<DatasetInfo>("/api/datasets", form);
  };

  // ---- jobs
  jobs = () => this.get<JobView[]>("/api/jobs");
  job = (id: string) => this.get<JobDetail>(`/api/jobs/${id}`);
  submit = (input: RecipeInput, idempotencyKey: string) =>
    this.post<JobView>("/api/jobs", input, { idempotencyKey });
  act = (id: string, action: "cancel" | "approve" | "deny" | "abort" | "resume", note?: string) =>
    this.post<ActionResult>(`/api/jobs/${id}/${action}`, note === undefined ? undefined : { note }, {
      idempotencyKey: newIdempotencyKey(),
    });
  rollback = (id: string, body: RollbackBody) =>
    this.post<ActionResult>(`/api/jobs/${id}/rollback`, body, { idempotencyKey: newIdempotencyKey() });
  eventsUrl = (id: string, after?: number) => {
    const query = new URLSearchParams({ token: this.token });
    if (after !== undefined) query.set("after", String(after));
    return `${this.base}/api/jobs/${id}/events?${query}`;
  };

  // ---- runs
  runs = () => this.get<RunSummary[]>("/api/runs");
  manifest = (runId: string) => this.get<JsonObject>(`/api/runs/${runId}`);
  files = (runId: string) => this.get<FileEntry[]>(`/api/runs/${runId}/files`);
  fileUrl = (runId: string, path: string) =>
    `${this.base}/api/runs/${runId}/files/${path.split("/").map(encodeURIComponent).join("/")}?token=${encodeURIComponent(this.token)}`;
  fileText = async (runId: string, path: string): Promise<string> => {
    const response = await fetch(this.fileUrl(runId, path)).catch(() => null);
    if (response === null) throw new ApiError(0, "no answer");
    const text = await response.text();
    if (!response.ok) throw refusal(response.status, text);
    return text;
  };
}

function refusal(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { detail?: unknown; problems?: FieldProblem[] };
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? text);
    return new ApiError(status, detail, Array.isArray(body.problems) ? body.problems : []);
  } catch {
    return new ApiError(status, text.slice(0, 300));
  }
}

/** Problem paths as the service writes them ('growth[0].options') in override form ('growth.0.options'). */
export function overridePath(problemPath: string): string {
  return problemPath.replace(/\[(\d+)\]/g, ".$1");
}
