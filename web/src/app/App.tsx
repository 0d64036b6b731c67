import { TokenGate } from "@/features/auth/TokenGate";
import { DatasetBuilder } from "@/features/datasets/DatasetBuilder";
import { Wizard } from "@/features/wizard/Wizard";
import { JobPage } from "@/pages/JobPage";
import { JobsList } from "@/pages/JobsList";
import { RunPage } from "@/pages/RunPage";
import { RunsPage } from "@/pages/RunsPage";
import { navigate, route, usePath, type Route } from "./router";

const NAV: [string, string, Route["page"][]][] = [
  ["/", "New run", ["wizard"]],
  ["/jobs", "Jobs", ["job", "jobs"]],
  ["/runs", "Runs", ["runs", "run"]],
  ["/datasets", "Datasets", ["datasets"]],
];

export function App() {
  const path = usePath();
  const current = route(path);
  return (
    <>
      <a className="skip-link" href="#content">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Scaler Wizard</span>
        <nav aria-label="Main">
          {NAV.map(([href, label, pages]) => (
            <a
              key={href}
              href={href}
              aria-current={pages.includes(current.page) ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(href);
              }}
            >
              {label}
            </a>
          ))}
        </nav>
      </header>
      <div id="content">
        <TokenGate>
          <Page route={current} />
        </TokenGate>
      </div>
    </>
  );
}

function Page({ route: r }: { route: Route }) {
  switch (r.page) {
    case "job":
      return <JobPage key={r.id} jobId={r.id} />;
    case "jobs":
      return <JobsList />;
    case "runs":
      return <RunsPage />;
    case "run":
      return <RunPage key={r.id} runId={r.id} />;
    case "datasets":
      return <DatasetBuilder />;
    default:
      return <Wizard />;
  }
}
