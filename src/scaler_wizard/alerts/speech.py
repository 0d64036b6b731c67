"""What an alert sounds like in each language: the rule's phrase with translated field values."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from scaler_wizard.alerts.model import Alert
from scaler_wizard.recipe.text_template import fill
from scaler_wizard.voice.languages import normalise
from scaler_wizard.voice.phrases import LANGUAGES, phrase, spoken_value


def spoken_texts(alert: Alert, custom: Mapping[str, str] | None = None) -> dict[str, str]:
    """Language → text. `custom` (a rule's own phrases) wins over the built-in table and may
    add languages the table lacks; their values are read as they are."""
    custom = {normalise(language): template for language, template in (custom or {}).items()}
    fields = {
        **alert.fields,
        "priority": alert.priority,
        "count": alert.count,
        "title": alert.title,
    }
    texts: dict[str, str] = {}
    for language in LANGUAGES:
        template = custom.get(language) or phrase(language, alert.rule)
        texts[language] = fill(template, fields, word=_translator(language))
    for language, template in custom.items():
        texts.setdefault(language, fill(template, fields))
    return texts


def _translator(language: str) -> Callable[[str, object], str]:
    def word(field: str, value: object) -> str:
        return spoken_value(language, field, value)

    return word
