"""Real-model checks on the embedded SmolLM2-135M-Instruct (run with `make test-slow`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaler_wizard.cli import app

pytestmark = pytest.mark.slow
SFT = Path(__file__).resolve().parents[3] / "shared" / "data" / "sft_stdlib.jsonl"


def test_embedded_conversion_answers_like_the_original() -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf

    path = convert_gguf(locate_embedded_gguf())
    assert (path / "model.safetensors").is_file()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    ids = ids["input_ids"] if not hasattr(ids, "shape") else ids
    out = model.generate(ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, ids.shape[1] :])


@pytest.mark.skipif(not SFT.is_file(), reason="shared data not present")
def test_tiny_recipe_on_embedded_model(tmp_path: Path, isolated_home: Path) -> None:
    from transformers import AutoModelForCausalLM

    data = tmp_path / "train.jsonl"
    shutil.copy(SFT, data)
    result = CliRunner().invoke(app, ["grow", "tiny-cpu", "--quiet", "--set", f"data.train={data}"])
    assert result.exit_code == 0, result.output
    run = next((isolated_home / "runs").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["base_model"]["name"] == "SmolLM2-135M-Instruct"
    model = AutoModelForCausalLM.from_pretrained(run / "model")
    assert model.config.num_hidden_layers == 30
