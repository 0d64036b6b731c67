"""Recipe errors that name the field path, the YAML line and what is allowed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    line: int | None = None  # 1-based line in the YAML source, when known


class RecipeError(ValueError):
    """A recipe that cannot be used; `str()` is a ready-to-print, actionable message."""

    def __init__(self, problems: list[Problem], source: str = "recipe") -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s)"]
        for p in self.problems:
            where = f"line {p.line}, " if p.line else ""
            lines.append(f"  - {where}{p.path or '(top level)'}: {p.message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()
