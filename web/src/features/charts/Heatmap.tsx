import type { HeatmapGrid } from "./shape";

interface Props {
  title: string;
  grid: HeatmapGrid | null;
  imageUrl?: string | undefined;
}

/** Needle-in-a-haystack accuracy: context length (rows) by needle depth (columns). */
export function Heatmap({ title, grid, imageUrl }: Props) {
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {grid ? (
        <table className="heatmap">
          <thead>
            <tr>
              <th scope="col">length \ depth</th>
              {grid.depths.map((d) => (
                <th key={d} scope="col">
                  {d}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {grid.lengths.map((length, row) => (
              <tr key={length}>
                <th scope="row">{length.toLocaleString("en")}</th>
                {grid.depths.map((depth, col) => {
                  const value = grid.accuracy[row]?.[col] ?? null;
                  return (
                    <td key={depth} style={{ background: cellColour(value) }}>
                      {value === null ? "—" : `${Math.round(value * 100)}%`}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">This run has no needle grid (evaluate.needle was off).</p>
      )}
      {imageUrl && (
        <a href={imageUrl} target="_blank" rel="noreferrer">
          Open the heatmap image
        </a>
      )}
    </figure>
  );
}

/** Red (0%) to green (100%), light enough for dark text on every cell. */
export function cellColour(value: number | null): string {
  if (value === null) return "transparent";
  const hue = Math.round(120 * Math.min(1, Math.max(0, value)));
  return `hsl(${hue} 70% 82%)`;
}
