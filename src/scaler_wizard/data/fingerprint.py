"""The data fingerprint: it changes whenever the prepared rows could, and only then."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scaler_wizard.data.records import TEXT_SUFFIXES
from scaler_wizard.recipe.spec import DataSpec

# Bump when the pipeline's output changes for the same inputs: old caches must not match.
# 2: streamed JSONL lines, formats, split_turns, transforms; 3: weighted sources, synthetic data
PIPELINE_VERSION = 3


def fingerprint(spec: DataSpec, tokenizer: Any, files: Sequence[Path | str]) -> str:
    """sha256 of the sources' bytes, the spec fields that shape the rows, and the tokenizer.

    A folder hashes its text files' names and bytes; a string (a hub source, or a digest of
    something the spec cannot name: user labeling code, synthetic examples) is hashed as is.
    """
    digest = hashlib.sha256()
    for source in files:
        if isinstance(source, str):
            digest.update(source.encode())
        elif source.is_dir():
            for path in _folder_files(source):
                digest.update(str(path.relative_to(source)).encode() + b"\0")
                _hash_file(digest, path)
        else:
            _hash_file(digest, source)
        digest.update(b"\0file\0")
    settings = {
        "pipeline": PIPELINE_VERSION,
        "has_eval_file": spec.eval is not None,
        "format": spec.format,
        "split_turns": spec.split_turns,
        "transforms": [t.model_dump() for t in spec.transforms],
        # Weights, names and per-source formats; `train` itself is covered by its bytes.
        "sources": [s.model_dump(exclude={"path"}) for s in spec.sources],
        "mix": spec.mix.model_dump(),
        "synthetic": spec.synthetic.model_dump() if spec.synthetic else None,
        "max_records": spec.max_records,
        "eval_records": spec.eval_records,
        "seq_length": spec.seq_length,
        "packing": spec.packing,
        "seed": spec.seed,
        "vocab_size": len(tokenizer),
        # The template decides the token stream of every conversation.
        "chat_template": getattr(tokenizer, "chat_template", None),
    }
    if spec.streaming is not None:  # shards change packing and the held-out split
        settings["streaming"] = spec.streaming.model_dump(exclude={"cache_dir"})
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _hash_file(digest: Any, path: Path) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def _folder_files(folder: Path) -> list[Path]:
    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.suffix.lower() in TEXT_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
