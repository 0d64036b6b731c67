// End to end against the real service and a real tiny job (no mocks): the wizard, the live
// progress, an approval gate, a rollback, the dataset builder, and what bad input looks like.
import { writeFileSync, truncateSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { readState, REPO, type ServiceInfo } from "./service";

const SHOTS = resolve(REPO, "docs/screenshots");
let svc: ServiceInfo;

test.describe.configure({ mode: "serial" });
test.beforeAll(() => {
  svc = readState();
});

async function shot(page: Page, name: string, fullPage = false, top = false): Promise<void> {
  if (top) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage, animations: "disabled" });
}

function api(page: Page) {
  const headers = { Authorization: `Bearer ${svc.token}` };
  return {
    get: async (path: string) => (await page.request.get(svc.url + path, { headers })).json(),
    post: async (path: string, data: unknown) => page.request.post(svc.url + path, { headers, data }),
  };
}

test("a missing or wrong token gets a clear message", async ({ page }) => {
  await page.goto(svc.url + "/");
  await expect(page.getByRole("alert")).toHaveText("This page needs the service's access token.");
  await page.goto(svc.url + "/?token=not-the-token");
  await expect(page.getByRole("alert")).toContainText("The service refused the access token.");
  await expect(page).toHaveURL(svc.url + "/"); // the token left the address bar
  await shot(page, "01-token-refused");
});

test("wizard → job → approval → rollback on a real tiny model", async ({ page }) => {
  await page.goto(`${svc.url}/?token=${svc.token}`);
  await expect(page.getByRole("heading", { name: "Grow a model" })).toBeVisible();

  // 1. Model & Tokenizer: a local folder, checked by the service.
  await page.getByLabel("Another model: a folder, a .gguf file or a hub id").fill(svc.model);
  await page.getByRole("button", { name: "Check and use" }).click();
  await expect(page.getByRole("status").filter({ hasText: "folder" })).toContainText("usable without a download");
  await expect(page.getByText("LlamaForCausalLM")).toBeVisible();
  await shot(page, "02-model");

  // 2. Growth Strategy: template, rank, context factor, data; a bad value is shown at its field.
  await page.getByRole("button", { name: "Next: Growth Strategy" }).click();
  await page.getByLabel("Persona template").selectOption("tiny-cpu");
  await page.getByLabel("LoRA rank", { exact: true }).fill("8");
  await page.getByLabel("Context scaling factor", { exact: true }).fill("2");
  await page.getByLabel("Training data", { exact: true }).fill(svc.data);
  const seq = page.getByLabel("Tokens per training row", { exact: true });
  await seq.fill("3");
  const seqField = page.locator('.field[data-path="data.seq_length"]');
  await expect(seqField.locator(".field-error")).toContainText("greater than or equal to 16");
  await expect(seq).toHaveAttribute("aria-invalid", "true");
  await shot(page, "03-invalid-field");
  await seq.fill("128");
  await expect(seqField.locator(".field-error")).toHaveCount(0);
  await expect(page.getByTestId("context-plan")).toContainText("256 → 512 tokens", { timeout: 120_000 });
  await expect(page.getByTestId("memory-total")).toContainText("MiB");
  await shot(page, "04-growth-strategy");

  // 3. Training & Export: three steps, a gate before export, a needle grid; review; start.
  await page.getByRole("button", { name: "Next: Training & Export" }).click();
  await page.getByLabel("Optimizer steps").fill("3");
  await page.getByLabel("Ask me before exporting").check();
  await page.getByLabel("Passkey retrieval at the target context").uncheck();
  await page.getByLabel("Needle-in-a-haystack grid (heatmap)").check();
  await expect(page.getByText("The recipe is valid.")).toBeVisible();
  const start = page.getByRole("button", { name: "Start growing" });
  await expect(start).toBeEnabled();
  await start.scrollIntoViewIfNeeded();
  await shot(page, "05-review");
  await start.click();

  // The job page: live progress until the gate.
  await expect(page).toHaveURL(/\/jobs\/job-[0-9a-f]{12}$/);
  const jobId = page.url().split("/").pop() as string;
  const status = page.getByTestId("job-status");
  await expect(status).toHaveText("awaiting approval", { timeout: 240_000 });
  await expect(page.getByRole("list", { name: "Run log" })).toContainText("waiting for your approval before export");
  await expect(page.getByTestId("gauge-step")).toHaveText("3 / 3");
  await shot(page, "06-approval-gate", false, true);

  // The rollback control dominates: the largest action, high contrast in the real browser.
  const largest = await page.evaluate(() => {
    const sizes = [...document.querySelectorAll("button")]
      .filter((b) => b.offsetParent !== null)
      .map((b) => ({ name: b.textContent ?? "", area: b.getBoundingClientRect().width * b.getBoundingClientRect().height }));
    return sizes.sort((a, b) => b.area - a.area)[0]?.name ?? "";
  });
  expect(largest).toContain("Roll back");

  await page.getByLabel("Note (kept in the run's manifest)").fill("numbers look fine");
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(status).toHaveText("completed", { timeout: 240_000 });
  await expect(page.getByRole("list", { name: "Run log" })).toContainText("finished (completed)");
  await expect(page.getByRole("figure", { name: "Needle in a haystack (grown)" }).locator("table")).toBeVisible();
  await shot(page, "07-completed", true);

  // Roll back to the first checkpoint: the confirmation names it.
  await page.getByRole("combobox", { name: "Checkpoint" }).selectOption("step-000001");
  await page.getByRole("button", { name: "Roll back to step-000001" }).click();
  const dialog = page.getByRole("alertdialog", { name: "Roll back to checkpoint step-000001?" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Keep the run as it is" })).toBeFocused();
  await shot(page, "08-rollback-confirm");
  await dialog.getByRole("button", { name: "Roll back to step-000001" }).click();
  await expect(status).toHaveText("rolled back", { timeout: 240_000 });
  await expect(page.getByRole("list", { name: "Run log" })).toContainText("rolled back to step-000001", { timeout: 60_000 });
  await shot(page, "09-rolled-back", false, true);

  const job = await api(page).get(`/api/jobs/${jobId}`);
  expect(job.status).toBe("rolled_back");
  const manifest = await api(page).get(`/api/runs/${job.run_id}`);
  expect(manifest.status).toBe("rolled_back");
  expect(manifest.rollbacks[0].to).toBe("step-000001");
  expect(manifest.approvals[0].note).toBe("numbers look fine");
});

test("dataset builder: preview and save; malformed, unsupported and oversize files refused with the reason", async ({ page }) => {
  await page.goto(`${svc.url}/datasets?token=${svc.token}`);
  await page.getByLabel(/Chat conversations/).check();
  await page.getByTestId("dataset-file").setInputFiles(svc.data);
  await expect(page.getByTestId("records")).toHaveText("40");
  await expect(page.getByRole("list", { name: "First records of chats.jsonl" })).toContainText("user:");
  await page.getByLabel("Dataset name").fill("json chats");
  await page.getByRole("button", { name: "Save as dataset recipe" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toContainText("json chats");
  await shot(page, "10-dataset-builder");

  const broken = join(svc.root, "broken.jsonl");
  writeFileSync(broken, "this is not json\n");
  const exe = join(svc.root, "tool.exe");
  writeFileSync(exe, "MZ");
  const huge = join(svc.root, "huge.jsonl");
  writeFileSync(huge, "");
  truncateSync(huge, 513 * 2 ** 20); // sparse: takes no disk space
  await page.getByTestId("dataset-file").setInputFiles([broken, exe, huge]);
  const refusals = page.locator(".uploads .notice.error");
  await expect(refusals).toHaveCount(3);
  await expect(page.locator(".uploads li", { hasText: "broken.jsonl" }).getByRole("alert")).toContainText("Refused:");
  await expect(page.locator(".uploads li", { hasText: "tool.exe" }).getByRole("alert")).toContainText("cannot be used: unsupported file type '.exe'");
  await expect(page.locator(".uploads li", { hasText: "huge.jsonl" }).getByRole("alert")).toContainText("over the service's upload limit of 512.0 MiB");
  await shot(page, "11-uploads-refused", true);

  // The saved dataset is offered in the wizard.
  await page.getByRole("button", { name: "Use it in the wizard now" }).click();
  await page.getByRole("button", { name: "Next: Growth Strategy" }).click();
  await expect(page.getByLabel("Training data", { exact: true })).toHaveValue(/uploads\/[0-9a-f]{16}\/chats\.jsonl$/);
});

test("a job that crashes shows why", async ({ page }) => {
  await page.goto(`${svc.url}/?token=${svc.token}`);
  const created = await api(page).post("/api/jobs", {
    template: "tiny-cpu",
    overrides: { "model.source": svc.model, "data.train": svc.bad_data, "evaluate.passkey": null },
  });
  expect(created.status()).toBe(201);
  const { id } = await created.json();
  await page.goto(`${svc.url}/jobs/${id}`);
  await expect(page.getByTestId("job-status")).toHaveText("failed", { timeout: 240_000 });
  await expect(page.getByTestId("failure")).toContainText("The run failed while reading the training data");
  await expect(page.getByRole("list", { name: "Run log" })).toContainText("failed in data");
  await shot(page, "12-job-failed", false, true);
});

test("runs history compares two runs side by side", async ({ page }) => {
  await page.goto(`${svc.url}/runs?token=${svc.token}`);
  const boxes = page.getByRole("checkbox", { name: /^Compare / });
  await expect(boxes).toHaveCount(2);
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  const table = page.locator("table.compare");
  await expect(table).toContainText("held-out loss, grown");
  await expect(table).toContainText("rolled_back");
  await expect(table).toContainText("failed");
  await shot(page, "13-runs-compare", true);
});
