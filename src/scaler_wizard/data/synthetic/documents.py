"""Long documents for long-context samples: read whole and tokenized once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaler_wizard.data.errors import DataError
from scaler_wizard.data.records import TEXT_SUFFIXES, check_file, read_text

FIELD = "data.synthetic.long_context.documents"


@dataclass(frozen=True)
class Document:
    name: str  # the file name: what a multi-document question calls it
    path: Path
    ids: list[int]  # the whole text's tokens, no special tokens


def load_documents(names: Sequence[str], root: Path, tokenizer: Any) -> list[Document]:
    """Every file named, and every .txt/.md file under a folder named (sorted, hidden skipped)."""
    documents: list[Document] = []
    for index, name in enumerate(names):
        field = f"{FIELD}[{index}]"
        path = Path(name).expanduser()
        path = path if path.is_absolute() else root / path
        files = _folder_files(path) if path.is_dir() else [path]
        if not files:
            raise DataError(f"no .txt/.md file under {path}", field=field)
        for file in files:
            check_file(file, field)
            text = read_text(file, field)
            ids = [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
            if ids:
                documents.append(Document(file.name, file, ids))
    return documents


def _folder_files(folder: Path) -> list[Path]:
    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.suffix.lower() in TEXT_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
