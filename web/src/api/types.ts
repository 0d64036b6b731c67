// Names for the generated OpenAPI types (schema.d.ts comes from `npm run gen:api`).
import type { components } from "./schema";

type Schemas = components["schemas"];
export type ActionResult = Schemas["ActionResult"];
export type DatasetInfo = Schemas["DatasetInfo"];
export type DatasetRecord = Schemas["DatasetRecord"];
export type ErrorBody = Schemas["ErrorBody"];
export type FieldProblem = Schemas["FieldProblemOut"];
export type FileEntry = Schemas["FileEntry"];
export type JobDetail = Schemas["JobDetail"];
export type JobView = Schemas["JobView"];
export type JobStatus = JobView["status"];
export type ModelInfo = Schemas["ModelInfo"];
export type PlanResult = Schemas["PlanResult"];
export type RecipeChecked = Schemas["RecipeChecked"];
export type RecipeInput = Schemas["RecipeInput"];
export type RollbackBody = Schemas["RollbackBody"];
export type RunSummary = Schemas["RunSummary"];
export type TemplateInfo = Schemas["TemplateInfo"];
export type TemplateDetail = Schemas["TemplateDetail"];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
