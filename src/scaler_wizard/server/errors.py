"""One error shape for every refusal: `{"detail": "...", "problems": [{"path", "message"}]}`.

`problems` point at fields (a recipe's `train.steps`, a request's `body.template`), so a form
can show each message next to its field.
"""

from __future__ import annotations

from dataclasses import dataclass

from scaler_wizard.recipe.errors import RecipeError


@dataclass(frozen=True)
class FieldProblem:
    path: str
    message: str
    line: int | None = None


class ApiError(Exception):
    def __init__(
        self, status_code: int, detail: str, problems: list[FieldProblem] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.problems = problems or []

    def body(self) -> dict[str, object]:
        return {
            "detail": self.detail,
            "problems": [
                {"path": p.path, "message": p.message, "line": p.line} for p in self.problems
            ],
        }


def recipe_problems(error: RecipeError) -> ApiError:
    problems = [FieldProblem(p.path, p.message, p.line) for p in error.problems]
    return ApiError(422, f"invalid recipe ({len(problems)} problem(s))", problems)
