"""The labeling-functions part of the data report, in markdown."""

from __future__ import annotations

from typing import Any


def render_label_summary(source: str, details: dict[str, Any]) -> list[str]:
    """A table per `label_functions` step: what each function voted and how it was weighted."""
    lines = [
        "",
        f"### Labeling functions ({source}, {details['mode']} mode)",
        "",
        "| function | votes | coverage | overlaps | conflicts | est. accuracy | weight |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in details["label_functions"]:
        votes = ", ".join(f"{label}: {n}" for label, n in row["votes"].items()) or "—"
        lines.append(
            f"| {row['name']} | {votes} | {row['coverage']:.1%} | {row['overlaps']:.1%} | "
            f"{row['conflicts']:.1%} | {row['accuracy']:.3f} | {row['weight']:.3f} |"
        )
    outcome = ", ".join(f"{label}: {n}" for label, n in details["outcome"].items())
    state = "converged" if details["converged"] else "stopped"
    lines += [
        "",
        f"Label model: {state} after {details['iterations']} iteration(s); outcome: {outcome}. "
        "Weight 0 means the function agreed no better than chance and was ignored.",
    ]
    return lines
