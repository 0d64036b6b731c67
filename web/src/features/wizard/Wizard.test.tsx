import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ApiClient } from "@/api/client";
import { ApiContext } from "@/app/api-context";
import { stubFetch } from "@/test/fetchStub";
import { readSchema } from "@/test/fixtures";
import { Wizard } from "./Wizard";

const RECIPE = {
  name: "tiny-cpu",
  model: { source: "embedded", tokenizer: { pad_token: null, add_tokens: [] } },
  growth: [{ strategy: "lora", options: { r: 4 } }],
  context: { engine: "auto", scale: null, target_length: null },
  data: { train: null, sources: [], format: "auto", seq_length: 128, max_records: 40, packing: true, split_turns: false },
  train: { steps: 2, batch_size: 2, learning_rate: 0.0002, checkpoint_every: 1 },
  gates: { approve_before: [] },
};

function renderWizard() {
  return render(
    <ApiContext.Provider value={new ApiClient("t")}>
      <Wizard />
    </ApiContext.Provider>,
  );
}

function commonRoutes() {
  return {
    "GET /api/schema/recipe": { body: readSchema("recipe.schema.json") },
    "GET /api/models": { body: [{ source: "embedded", kind: "embedded", available: true, path: null, message: "SmolLM2", config: {} }] },
    "GET /api/templates": { body: [{ name: "tiny-cpu", persona: false, description: "Two steps." }] },
    "GET /api/datasets": { body: [] },
  };
}

describe("wizard validation display", () => {
  it("shows each problem next to its field, by path, and blocks the start", async () => {
    const calls = stubFetch({
      ...commonRoutes(),
      "POST /api/recipes/validate": (init) => {
        const body = JSON.parse(String(init?.body)) as { overrides: Record<string, unknown> };
        if (body.overrides["data.seq_length"] === 3) {
          return {
            status: 422,
            body: {
              detail: "invalid recipe (2 problem(s))",
              problems: [
                { path: "data.seq_length", message: "Input should be greater than or equal to 16 (got 3)", line: null },
                { path: "export.gguf.dtype", message: "Input should be 'f16', 'bf16' or 'f32'", line: null },
              ],
            },
          };
        }
        return { body: { recipe: RECIPE } };
      },
    });
    sessionStorage.setItem("scaler-wizard-draft", JSON.stringify({ template: "tiny-cpu", overrides: {} }));
    const user = userEvent.setup();
    renderWizard();
    await user.click(await screen.findByRole("button", { name: "Next: Growth Strategy" }));
    const box = await screen.findByRole("spinbutton", { name: "Tokens per training row" });
    await user.clear(box);
    await user.type(box, "3");

    const error = await screen.findByText("Input should be greater than or equal to 16 (got 3)");
    const field = error.closest(".field");
    expect(field?.getAttribute("data-path")).toBe("data.seq_length");
    expect(within(field as HTMLElement).getByRole("spinbutton")).toHaveAttribute("aria-invalid", "true");
    expect(box.getAttribute("aria-describedby")).toContain(error.id);
    // A problem no field of this step shows is listed above it, not lost.
    expect(within(screen.getByRole("list", { name: "Problems" })).getByText(/'f16', 'bf16' or 'f32'/)).toBeInTheDocument();
    expect(screen.getByText("2 problem(s) to fix")).toBeInTheDocument();
    expect(calls.some((c) => c.key === "POST /api/recipes/validate")).toBe(true);
    expect(calls.some((c) => c.key === "POST /api/recipes/plan")).toBe(false); // no plan of an invalid recipe

    await user.click(screen.getByRole("button", { name: "Next: Training & Export" }));
    expect(await screen.findByRole("button", { name: "Start growing" })).toBeDisabled();
  });

  it("asks for a plan once the recipe is valid and has data, and shows memory and context", async () => {
    stubFetch({
      ...commonRoutes(),
      "POST /api/recipes/validate": { body: { recipe: { ...RECIPE, data: { ...RECIPE.data, train: "/d/chats.jsonl" } } } },
      "POST /api/recipes/plan": {
        body: {
          plan: {
            context: { engine: "yarn", factor: 2, native_length: 256, target_length: 512, reasons: ["yarn factor 2"], warnings: [] },
            training: { memory: { total_gib: 0.44, weights_gib: 0.01, trainable_params: 8192 }, budget_gib: 17.6 },
          },
        },
      },
    });
    sessionStorage.setItem("scaler-wizard-draft", JSON.stringify({ template: "tiny-cpu", overrides: { "data.train": "/d/chats.jsonl" } }));
    renderWizard();
    expect(await screen.findByTestId("memory-total", {}, { timeout: 3000 })).toHaveTextContent("451 MiB");
    expect(screen.getByTestId("context-plan")).toHaveTextContent("256 → 512 tokens · yarn ×2");
  });
});
