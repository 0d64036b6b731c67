import { readSchema } from "@/test/fixtures";
import { currentValue, problemMatches, unclaimed, withOverride } from "./draft";
import { fieldSpec } from "./schemaFields";

describe("draft and field paths", () => {
  it("matches a problem to the field it is about", () => {
    expect(problemMatches("train.steps", "train.steps")).toBe(true);
    expect(problemMatches("growth[0].options", "growth.0.options.r")).toBe(true);
    expect(problemMatches("data", "data.train")).toBe(true);
    expect(problemMatches("data.train", "data.seq_length")).toBe(false);
    expect(unclaimed([{ path: "export.gguf.dtype", message: "m", line: null }], ["data.train"])).toHaveLength(1);
  });

  it("shows an override before the recipe's own value, and drops one set to undefined", () => {
    const draft = withOverride({ template: "t", overrides: {} }, "train.steps", 7);
    expect(currentValue(draft, { train: { steps: 2, batch_size: 4 } }, "train.steps")).toBe(7);
    expect(currentValue(draft, { train: { steps: 2, batch_size: 4 } }, "train.batch_size")).toBe(4);
    expect(withOverride(draft, "train.steps", undefined).overrides).toEqual({});
  });

  it("reads bounds, choices and help from the published recipe schema", () => {
    const schema = readSchema("recipe.schema.json");
    expect(fieldSpec(schema, "data.seq_length")).toMatchObject({ minimum: 16, default: 512, type: "integer" });
    expect(fieldSpec(schema, "context.scale")).toMatchObject({ exclusiveMinimum: 0, nullable: true });
    expect(fieldSpec(schema, "safety.preset").choices).toEqual(["strict", "standard", "expert"]);
    expect(fieldSpec(schema, "gates.approve_before").choices).toEqual(expect.arrayContaining(["stage", "export"]));
    expect(fieldSpec(schema, "alerts.voice.words_per_minute")).toMatchObject({ minimum: 80, maximum: 450 });
    expect(fieldSpec(schema, "no.such.field", "fallback").title).toBe("fallback");
  });
});
