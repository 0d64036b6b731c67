"""Data errors that name the recipe field, the file and the line, so a user can fix the input."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Training data that cannot be used; `str()` is a ready-to-print message.

    Rendered as `<field>: <path> line <n>: <message>`, leaving out the parts that are unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        path: Path | str | None = None,
        line: int | None = None,
        unit: str = "line",
    ) -> None:
        self.message = message
        self.field = field
        self.path = None if path is None else str(path)
        self.line = line
        self.unit = unit  # "line" for JSONL/text, "item" for a JSON list
        super().__init__(self.render())

    def render(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where = f"{where} {self.unit} {self.line}".strip()
        parts = [p for p in (self.field, where) if p]
        return ": ".join([*parts, self.message])

    def __str__(self) -> str:
        return self.render()
