import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { stubFetch } from "@/test/fetchStub";
import { TokenGate } from "./TokenGate";

describe("token gate", () => {
  beforeEach(() => window.history.replaceState(null, "", "/"));

  it("asks for a token when the address has none", () => {
    stubFetch({});
    render(<TokenGate>app</TokenGate>);
    expect(screen.getByRole("alert")).toHaveTextContent("This page needs the service's access token.");
    expect(screen.queryByText("app")).toBeNull();
  });

  it("says plainly that a wrong token was refused, and takes another", async () => {
    stubFetch({
      "GET /api/jobs": (init) =>
        (init?.headers as Record<string, string>).Authorization === "Bearer good"
          ? { body: [] }
          : { status: 401, body: { detail: "missing or wrong token", problems: [] } },
    });
    window.history.replaceState(null, "", "/?token=wrong");
    render(<TokenGate>app</TokenGate>);
    expect(await screen.findByRole("alert")).toHaveTextContent("The service refused the access token.");
    expect(window.location.search).toBe(""); // the token does not stay in the address bar
    await userEvent.type(screen.getByLabelText("Access token"), "good");
    await userEvent.click(screen.getByRole("button", { name: "Connect" }));
    expect(await screen.findByText("app")).toBeInTheDocument();
  });

  it("says when the service does not answer at all", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))));
    window.history.replaceState(null, "", "/?token=t");
    render(<TokenGate>app</TokenGate>);
    expect(await screen.findByRole("alert")).toHaveTextContent("The service does not answer.");
  });
});
