"""Prepare what the end-to-end test needs: a tiny random Llama folder and chat data.

Prints one JSON object: {"model": <folder>, "data": <jsonl>, "bad_data": <jsonl>, "workspace": <folder>}.
Usage: python web/e2e/prepare.py <root folder>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from tiny_models import build_tiny_model, build_tiny_tokenizer, write_chat_data  # noqa: E402


def prepare(root: Path) -> dict[str, str]:
    model = root / "tiny-llama"
    if not (model / "config.json").is_file():
        tokenizer = build_tiny_tokenizer()
        build_tiny_model(tokenizer).save_pretrained(model)
        tokenizer.save_pretrained(model)
    data = write_chat_data(root / "chats.jsonl", 40)
    # Valid JSON whose records are not conversations: a run on it fails in its data phase.
    bad = root / "not-chats.jsonl"
    bad.write_text("".join(json.dumps({"messages": "hello"}) + "\n" for _ in range(8)))
    workspace = root / "workspace"
    workspace.mkdir(exist_ok=True)
    return {"model": str(model), "data": str(data), "bad_data": str(bad), "workspace": str(workspace)}


if __name__ == "__main__":
    print(json.dumps(prepare(Path(sys.argv[1]).resolve())))
