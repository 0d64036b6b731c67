import type { DatasetInfo, DatasetRecord } from "@/api/types";
import { formatBytes } from "@/lib/format";

/** What the service read from one upload: counts, skipped records and why, the first records. */
export function DataReport({ info, mismatch }: { info: DatasetInfo; mismatch: string | null }) {
  return (
    <div className="data-report">
      <dl className="facts">
        <div>
          <dt>format</dt>
          <dd>{info.format}</dd>
        </div>
        <div>
          <dt>records</dt>
          <dd data-testid="records">{info.records}</dd>
        </div>
        <div>
          <dt>skipped</dt>
          <dd>{info.skipped}</dd>
        </div>
        <div>
          <dt>size</dt>
          <dd>{formatBytes(info.size_bytes)}</dd>
        </div>
      </dl>
      {mismatch && <p className="notice caution">{mismatch}</p>}
      {info.problems.length > 0 && (
        <ul className="notice caution" aria-label="Skipped records">
          {info.problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <ol className="preview" aria-label={`First records of ${info.name}`}>
        {info.preview.map((r) => (
          <li key={r.line}>
            <span className="muted">line {r.line}</span> <Record record={r} />
          </li>
        ))}
      </ol>
    </div>
  );
}

function Record({ record }: { record: DatasetRecord }) {
  if (record.messages) {
    return (
      <ul className="messages">
        {record.messages.map((m, i) => (
          <li key={i}>
            <strong>{m.role}:</strong> {m.content}
          </li>
        ))}
      </ul>
    );
  }
  return <span>{record.text}</span>;
}
