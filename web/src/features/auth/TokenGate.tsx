import { useEffect, useMemo, useState, type FormEvent, type ReactNode } from "react";
import { ApiClient, ApiError } from "@/api/client";
import { ApiContext } from "@/app/api-context";
import { forgetToken, saveToken, takeToken } from "./token";

type Check = { state: "checking" } | { state: "ok" } | { state: "refused"; message: string };

/** Renders the app once the service accepts the token; otherwise says why and asks for one. */
export function TokenGate({ children }: { children: ReactNode }) {
  const [token, setToken] = useState<string | null>(() => takeToken());
  const [check, setCheck] = useState<Check>({ state: "checking" });
  const client = useMemo(() => (token ? new ApiClient(token) : null), [token]);

  useEffect(() => {
    if (!client) return;
    let live = true;
    setCheck({ state: "checking" });
    client
      .jobs()
      .then(() => live && setCheck({ state: "ok" }))
      .catch((error: unknown) => {
        if (!live) return;
        if (error instanceof ApiError && error.status === 401) forgetToken();
        setCheck({ state: "refused", message: error instanceof Error ? error.message : String(error) });
      });
    return () => {
      live = false;
    };
  }, [client]);

  if (!client) return <TokenForm onToken={setToken} message="This page needs the service's access token." />;
  if (check.state === "refused") return <TokenForm onToken={setToken} message={check.message} />;
  if (check.state === "checking") return <p className="page muted">Connecting to the service…</p>;
  return <ApiContext.Provider value={client}>{children}</ApiContext.Provider>;
}

function TokenForm({ message, onToken }: { message: string; onToken: (token: string) => void }) {
  const [value, setValue] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!value.trim()) return;
    saveToken(value);
    onToken(value.trim());
  };
  return (
    <main className="page narrow">
      <h1>Scaler Wizard</h1>
      <div role="alert" className="notice error">
        {message}
      </div>
      <p>
        Open the address that <code>scaler-wizard serve</code> printed (it ends in <code>?token=…</code>), or paste the
        token stored in <code>&lt;workspace&gt;/server/token</code>.
      </p>
      <form onSubmit={submit} className="row">
        <label htmlFor="token-input">Access token</label>
        <input id="token-input" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
        <button type="submit">Connect</button>
      </form>
    </main>
  );
}
