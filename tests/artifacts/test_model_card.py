"""The model card: parseable front matter, the run's key numbers, only sections with data."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from scaler_wizard.artifacts.model_card import base_model_id, render_model_card

MANIFEST: dict[str, Any] = {
    "run_id": "20250101-120000-smol-16k-ab12",
    "recipe_name": "smol-16k",
    "created": "2025-01-01T12:00:00+00:00",
    "base_model": {"source": "embedded", "name": "SmolLM2-135M-Instruct", "parameters": 134515008},
    "growth": [
        {
            "strategy": "lora",
            "options": {"r": 16, "alpha": 32, "target_modules": "all-linear"},
            "parameters_before": 134515008,
            "parameters_after": 139397184,
            "trainable": 4882176,
        }
    ],
    "context": {
        "engine": "yarn",
        "factor": 2.0,
        "native_length": 8192,
        "target_length": 16384,
        "rope_after": {
            "rope_type": "yarn",
            "rope_theta": 100000.0,
            "factor": 2.0,
            "original_max_position_embeddings": 8192,
        },
    },
    "data": {
        "train": "data/sft_stdlib.jsonl",
        "format": "messages",
        "fingerprint": "sha256:0123abcd",
        "stats": {"records": 480, "train_rows": 37, "label_tokens": 15234},
    },
    "train": {
        "steps": 100,
        "learning_rate": 0.0002,
        "batch_size": 4,
        "seq_length": 512,
        "duration_s": 3723.4,
        "tokens_per_s": 812.6,
    },
    "metrics": {
        "base": {"eval_loss": 2.3456, "eval_perplexity": 10.4397, "passkey": {"16384": 0.0}},
        "grown": {
            "eval_loss": 1.9876,
            "eval_perplexity": 7.2984,
            "passkey": {"4096": 1.0, "16384": 0.8},
        },
    },
    "versions": {"scaler-wizard": "0.1.0", "transformers": "5.24.0", "torch": "2.13.0"},
}


def front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    _, meta, body = card.split("---\n", 2)
    assert body.strip()
    data: dict[str, Any] = yaml.safe_load(meta)
    return data


def test_front_matter_parses_as_yaml() -> None:
    meta = front_matter(render_model_card(MANIFEST))
    assert meta == {
        "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "library_name": "transformers",
        "tags": ["scaler-wizard", "lora", "yarn", "long-context"],
        "pipeline_tag": "text-generation",
    }


@pytest.mark.parametrize(
    "expected",
    [
        "# smol-16k",
        "20250101-120000-smol-16k-ab12",
        # growth: parameter counts exact and short, options
        "| lora |",
        "134,515,008 (134.5M)",
        "139,397,184 (139.4M)",
        "4,882,176 (4.9M)",
        '"target_modules": "all-linear"',
        # context
        "8,192 → 16,384 tokens",
        "**Engine:** yarn",
        "**Factor:** 2.0",
        '"original_max_position_embeddings": 8192',
        # data
        "`data/sft_stdlib.jsonl`",
        "`sha256:0123abcd`",
        "| label_tokens | 15234 |",
        # training
        "| Optimizer steps | 100 |",
        "| Learning rate | 0.0002 |",
        "1h 02m 03s",
        "813 tokens/s",
        # results: base, grown and the delta
        "| Held-out loss (nats/token) | 2.3456 | 1.9876 | -0.3580 |",
        "| Held-out perplexity | 10.440 | 7.298 | -3.141 |",
        "| Passkey accuracy @ 4,096 tokens | – | 100% | – |",
        "| Passkey accuracy @ 16,384 tokens | 0% | 80% | +80 pp |",
        # loading and software
        "AutoModelForCausalLM.from_pretrained(path)",
        "- transformers 5.24.0",
    ],
)
def test_card_holds_the_key_facts(expected: str) -> None:
    assert expected in render_model_card(MANIFEST)


def test_passkey_rows_are_sorted_by_length() -> None:
    card = render_model_card(MANIFEST)
    assert card.index("@ 4,096 tokens") < card.index("@ 16,384 tokens")


def test_files_section_lists_the_folder() -> None:
    card = render_model_card(
        MANIFEST, files=["config.json", "model.safetensors", "adapter/", "plots/loss.png"]
    )
    assert "- `config.json`: model configuration" in card
    assert "- `adapter/`: the trained adapter" in card
    assert "- `plots/loss.png`: loss curve" in card
    assert "peft.PeftModel.from_pretrained" in card


def test_empty_manifest_renders_only_what_exists() -> None:
    card = render_model_card({})
    meta = front_matter(card)
    assert "base_model" not in meta
    assert meta["tags"] == ["scaler-wizard"]
    assert "## How to load" in card
    for absent in ("## What was grown", "## Context", "## Data", "## Training", "## Results",
                   "## Files", "## Software"):  # fmt: skip
        assert absent not in card


def test_pipes_in_options_do_not_break_the_table() -> None:
    card = render_model_card({"growth": [{"strategy": "lora", "options": {"note": "a|b"}}]})
    assert "a\\|b" in card


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ({"source": "embedded"}, "HuggingFaceTB/SmolLM2-135M-Instruct"),
        ({"source": "Qwen/Qwen2.5-0.5B"}, "Qwen/Qwen2.5-0.5B"),
        ({"source": "/models/local-llama", "name": "local-llama"}, None),
        ({"source": "./weights/model.gguf"}, None),
        ({"source": "TheBloke/x-GGUF/model.Q4.gguf"}, None),
        ({"source": "/tmp/x", "name": "org/model"}, "org/model"),
    ],
)
def test_base_model_id(base: dict[str, Any], expected: str | None) -> None:
    assert base_model_id(base) == expected


def test_loading_instructions_follow_what_was_exported() -> None:
    merged = render_model_card({"exports": {"model": "/x/model"}}, files=["model/", "adapter/"])
    assert 'path = "model"' in merged and "AutoModelForCausalLM" in merged
    adapter_only = render_model_card(
        {"exports": {"merged_skipped": "prefix tuning cannot be merged"}}, files=["adapter/"]
    )
    assert "AutoPeftModelForCausalLM" in adapter_only
    assert "prefix tuning cannot be merged" in adapter_only
    assert 'path = "model"' not in adapter_only
