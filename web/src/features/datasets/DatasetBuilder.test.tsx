import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ApiClient } from "@/api/client";
import { ApiContext } from "@/app/api-context";
import { stubFetch } from "@/test/fetchStub";
import { DatasetBuilder } from "./DatasetBuilder";
import { dataOverrides, listSaved } from "./saved";

const INFO = {
  id: "abc",
  name: "chats.jsonl",
  path: "/w/uploads/abc/chats.jsonl",
  format: "messages",
  records: 40,
  skipped: 1,
  problems: ["line 7: no messages"],
  sha256: "x",
  size_bytes: 2048,
  preview: [{ line: 1, messages: [{ role: "user", content: "Hi" }], text: null }],
};

describe("dataset builder", () => {
  it("previews an upload, saves it as a dataset recipe the wizard can use", async () => {
    stubFetch({ "POST /api/datasets": { status: 201, body: INFO } });
    const user = userEvent.setup();
    render(
      <ApiContext.Provider value={new ApiClient("t")}>
        <DatasetBuilder />
      </ApiContext.Provider>,
    );
    await user.upload(screen.getByTestId("dataset-file"), new File(['{"messages": []}'], "chats.jsonl"));
    expect(await screen.findByTestId("records")).toHaveTextContent("40");
    expect(screen.getByRole("list", { name: "Skipped records" })).toHaveTextContent("line 7: no messages");
    expect(screen.getByRole("list", { name: "First records of chats.jsonl" })).toHaveTextContent("user: Hi");
    await user.type(screen.getByLabelText("Dataset name"), "support chats");
    await user.click(screen.getByRole("button", { name: "Save as dataset recipe" }));
    const [saved] = listSaved();
    expect(saved).toMatchObject({ name: "support chats", format: "messages", files: [{ path: INFO.path, records: 40 }] });
    expect(dataOverrides(saved!)).toEqual({ "data.train": INFO.path, "data.sources": [], "data.format": "messages" });
  });

  it("shows why an upload was refused", async () => {
    stubFetch({ "POST /api/datasets": { status: 415, body: { detail: "unsupported file type '.exe'", problems: [] } } });
    render(
      <ApiContext.Provider value={new ApiClient("t")}>
        <DatasetBuilder />
      </ApiContext.Provider>,
    );
    await userEvent.upload(screen.getByTestId("dataset-file"), new File(["MZ"], "tool.exe"), { applyAccept: false });
    expect(await screen.findByRole("alert")).toHaveTextContent("Refused: This kind of file cannot be used: unsupported file type '.exe'");
  });

  it("saves several files as weighted sources", () => {
    const files = [
      { path: "/a.jsonl", name: "a", records: 1 },
      { path: "/b.jsonl", name: "b", records: 2 },
    ];
    expect(dataOverrides({ name: "x", template: "t", format: "alpaca", files, saved: "" })["data.sources"]).toEqual([
      { path: "/a.jsonl", name: "a", weight: 1 },
      { path: "/b.jsonl", name: "b", weight: 1 },
    ]);
  });
});
