"""The evaluation memory estimate, and the plan refusing what a machine cannot evaluate."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import LlamaConfig
from typer.testing import CliRunner

from scaler_wizard.cli import app
from scaler_wizard.hardware.memory import RUNTIME_GIB, estimate_eval_memory_gib

SMOLLM2 = LlamaConfig(
    hidden_size=576,
    num_hidden_layers=30,
    num_attention_heads=9,
    num_key_value_heads=3,
    head_dim=64,
    intermediate_size=1536,
    vocab_size=49152,
)


def test_estimate_tracks_measured_smollm2_peaks() -> None:
    # Peak RSS measured on this kind of machine (fp32, SDPA, passkey prompts).
    measured = {1024: 0.97, 4096: 1.21, 8192: 1.89, 16384: 2.45}
    for tokens, peak in measured.items():
        assert abs(estimate_eval_memory_gib(SMOLLM2, tokens) - peak) < 0.4, tokens
    per_1k = (
        estimate_eval_memory_gib(SMOLLM2, 16384) - estimate_eval_memory_gib(SMOLLM2, 8192)
    ) / 8
    assert abs(per_1k - (2.45 - 1.89) / 8) < 0.01  # the growth per token matches


def test_half_precision_halves_the_model_part() -> None:
    full = estimate_eval_memory_gib(SMOLLM2, 4096, "float32") - RUNTIME_GIB
    half = estimate_eval_memory_gib(SMOLLM2, 4096, "bfloat16") - RUNTIME_GIB
    assert abs(half * 2 - full) < 1e-9


def test_plan_refuses_a_target_this_machine_cannot_evaluate(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    data = tmp_path / "d.jsonl"
    record = {
        "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]
    }
    data.write_text("\n".join(json.dumps(record) for _ in range(12)) + "\n")
    args = [
        "plan",
        "tiny-cpu",
        "--set",
        f"model.source={tiny_model_dir}",
        "--set",
        f"data.train={data}",
        "--set",
        "context.target_length=4000000000",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "context.target_length" in text and "needs about" in text and "GiB of RAM" in text
