"""Alert text templates: `{field}`, `{nested.field}` and `{field|default}` (the default also
stands in for an empty value); `{{` and `}}` are literal braces. Deliberately not `str.format`:
a recipe's template must not reach attributes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)(?:\|([^{}]*))?\}")
_TOKEN = re.compile(r"\{\{|\}\}|" + PLACEHOLDER.pattern)
MISSING = "?"


def check_template(template: str) -> str:
    """The template itself, or ValueError naming the first stray brace."""
    rest = _TOKEN.sub("", template)
    for brace in "{}":
        if brace in rest:
            raise ValueError(f"unmatched {brace!r} in template {template!r}")
    return template


def fill(
    template: str,
    fields: Mapping[str, object],
    word: Callable[[str, object], str] | None = None,
) -> str:
    """Put field values into `template`; `word(field, value)` may translate a value."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name, default = match.group(1), match.group(2)
        value = fields.get(name)
        if value is None or (value == "" and default is not None):
            return default if default is not None else MISSING
        return word(name, value) if word is not None else show_value(value)

    return _TOKEN.sub(replace, template)


def show_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
