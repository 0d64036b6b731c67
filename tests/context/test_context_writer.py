"""Writing plans into configs: kept keys, composition with existing scaling, the v4 layout,
sliding windows, and a save_pretrained → from_pretrained round trip."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import rope_formulas as ref

from scaler_wizard.context import ContextPlan, apply_context_plan, plan_context
from scaler_wizard.models.hf_compat import read_rope
from scaler_wizard.recipe.spec import ContextSpec


def _plan(config: Any, registry: Any, will_train: bool = True, **spec: Any) -> ContextPlan:
    return plan_context(config, ContextSpec(**spec), will_train=will_train, registry=registry)


@pytest.mark.parametrize(
    ("engine", "rope_type", "max_after", "extra"),
    [
        ("linear", "linear", 8192, {"factor": 4.0}),
        (
            "yarn",
            "yarn",
            8192,
            {"factor": 4.0, "original_max_position_embeddings": 2048, "beta_fast": 32.0},
        ),
        (
            "llama3",
            "llama3",
            8192,
            {"factor": 4.0, "original_max_position_embeddings": 2048, "low_freq_factor": 1.0},
        ),
        ("dynamic", "dynamic", 2048, {"factor": 1.0}),
        ("ntk", "default", 8192, {}),
    ],
)
def test_written_config(
    registry: Any,
    make_llama: Any,
    engine: str,
    rope_type: str,
    max_after: int,
    extra: dict[str, Any],
) -> None:
    config = make_llama(native=2048, theta=1e4)
    plan = _plan(
        config, registry, will_train=engine != "dynamic", engine=engine, target_length=8192
    )
    apply_context_plan(config, plan)
    rope = read_rope(config)
    assert rope == plan.rope_after
    assert rope is not None and rope["rope_type"] == rope_type
    assert config.max_position_embeddings == plan.max_position_embeddings_after == max_after
    assert extra.items() <= rope.items()
    if engine == "ntk":
        assert rope["rope_theta"] == pytest.approx(1e4 * 4 ** (64 / 62))
    else:
        assert rope["rope_theta"] == 1e4
    config.validate_rope()  # transformers' own validator accepts what we wrote


def test_partial_rotary_factor_kept(registry: Any) -> None:
    from transformers import PhiConfig

    config = PhiConfig(max_position_embeddings=2048)
    apply_context_plan(config, _plan(config, registry, engine="yarn", target_length=4096))
    rope = read_rope(config)
    assert rope is not None and rope["partial_rotary_factor"] == 0.5 and rope["rope_theta"] == 1e4


QWEN_YARN = {
    "rope_type": "yarn",
    "factor": 4.0,
    "original_max_position_embeddings": 32768,
    "rope_theta": 1e6,
    "beta_fast": 32.0,
    "beta_slow": 1.0,
}


def _qwen_like(make_llama: Any) -> Any:
    config = make_llama(native=131072, theta=1e6)
    config.rope_parameters = dict(QWEN_YARN)
    return config


def test_existing_yarn_composed_not_stacked(registry: Any, make_llama: Any) -> None:
    config = _qwen_like(make_llama)
    plan = _plan(config, registry, engine="yarn", target_length=262144)
    assert plan.native_length == 32768 and plan.factor == 8.0  # relative to native, not 131072
    assert (
        plan.rope_after is not None and plan.rope_after["original_max_position_embeddings"] == 32768
    )
    assert any(
        "already had yarn ×4.0 (original 32768)" in r and "replaced" in r for r in plan.reasons
    )
    assert not plan.warnings  # same type: no type-change warning
    apply_context_plan(config, plan)
    assert config.max_position_embeddings == 262144


def test_existing_scaling_type_change_warns_and_drops_stale_keys(
    registry: Any, make_llama: Any
) -> None:
    config = _qwen_like(make_llama)
    plan = _plan(config, registry, engine="linear", target_length=262144)
    assert any("from 'yarn' to 'linear'" in w for w in plan.warnings)
    apply_context_plan(config, plan)
    assert config.rope_parameters == {"rope_type": "linear", "rope_theta": 1e6, "factor": 8.0}


def test_auto_keeps_existing_scaling_that_already_reaches(registry: Any, make_llama: Any) -> None:
    config = _qwen_like(make_llama)
    plan = _plan(config, registry, target_length=65536)
    assert plan.engine == "none" and plan.rope_after == plan.rope_before
    assert "already reaches 131072" in plan.reasons[0]
    assert not plan.changes_config
    apply_context_plan(config, plan)
    assert config.rope_parameters == QWEN_YARN


def test_explicit_engine_below_existing_extension_warns(registry: Any, make_llama: Any) -> None:
    plan = _plan(_qwen_like(make_llama), registry, engine="yarn", target_length=65536)
    assert plan.factor == 2.0
    assert any("lowers the context" in w for w in plan.warnings)


def test_v4_layout_written_as_rope_scaling(registry: Any) -> None:
    """A transformers-4 style config (top-level rope_theta + rope_scaling) is handled too."""
    config = SimpleNamespace(
        model_type="llama",
        rope_theta=10000.0,
        rope_scaling=None,
        max_position_embeddings=2048,
        hidden_size=128,
        num_attention_heads=2,
        head_dim=64,
    )
    plan = _plan(config, registry, engine="yarn", target_length=8192)
    apply_context_plan(config, plan)
    assert config.rope_theta == 10000.0
    assert config.rope_scaling == {
        "rope_type": "yarn",
        "factor": 4.0,
        "original_max_position_embeddings": 2048,
        "beta_fast": 32.0,
        "beta_slow": 1.0,
    }
    assert config.max_position_embeddings == 8192


def test_apply_is_idempotent_and_refuses_other_configs(registry: Any, make_llama: Any) -> None:
    config = make_llama(native=2048)
    plan = _plan(config, registry, engine="yarn", target_length=8192)
    apply_context_plan(config, plan)
    apply_context_plan(config, plan)
    assert read_rope(config) == plan.rope_after
    with pytest.raises(ValueError, match="plan was made for"):
        apply_context_plan(make_llama(native=2048, theta=5e5), plan)


def test_plan_json_round_trip(registry: Any, make_llama: Any) -> None:
    plan = _plan(make_llama(native=2048), registry, target_length=8192)
    again = ContextPlan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert plan.model_dump(mode="json")["rope_after"]["factor"] == 4.0


def test_sliding_window_raised_for_mistral(registry: Any) -> None:
    from transformers import MistralConfig

    config = MistralConfig(max_position_embeddings=8192, sliding_window=4096)
    plan = _plan(config, registry, target_length=32768)
    assert plan.config_updates == {"sliding_window": 32768}
    assert any("sliding_window raised from 4096 to 32768" in r for r in plan.reasons)
    apply_context_plan(config, plan)
    assert config.sliding_window == 32768


def test_sliding_window_kept_when_inert_or_by_design(registry: Any) -> None:
    from transformers import Qwen2Config

    qwen = Qwen2Config(max_position_embeddings=2048, use_sliding_window=False)
    assert _plan(qwen, registry, target_length=8192).config_updates == {}
    mixed = Qwen2Config(
        max_position_embeddings=2048,
        use_sliding_window=True,
        sliding_window=1024,
        num_hidden_layers=4,
        max_window_layers=2,
    )
    plan = _plan(mixed, registry, target_length=8192)
    assert plan.config_updates == {}
    assert any("mixes sliding-window and full-attention" in w for w in plan.warnings)


@pytest.mark.parametrize("engine", ["yarn", "linear", "llama3", "ntk", "dynamic"])
def test_save_load_round_trip(
    registry: Any, tiny_model_dir: Path, tmp_path: Path, engine: str
) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(tiny_model_dir)  # head_dim 16, 256 positions, θ 1e4
    plan = _plan(
        config, registry, will_train=engine != "dynamic", engine=engine, target_length=1024
    )
    apply_context_plan(config, plan)
    AutoModelForCausalLM.from_pretrained(tiny_model_dir, config=config).save_pretrained(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert model.config.rope_parameters == plan.rope_after
    assert model.config.max_position_embeddings == plan.max_position_embeddings_after
    expected, attention = {
        "yarn": (ref.yarn_inv_freq(1e4, 16, 256, 4), ref.yarn_attention_factor(4)),
        "linear": (ref.linear_inv_freq(1e4, 16, 4), 1.0),
        "llama3": (ref.llama3_inv_freq(1e4, 16, 256, 4), 1.0),
        "ntk": (ref.ntk_inv_freq(1e4, 16, 4), 1.0),
        "dynamic": (ref.default_inv_freq(1e4, 16), 1.0),  # below threshold: unchanged
    }[engine]
    rotary = model.model.rotary_emb
    np.testing.assert_allclose(rotary.inv_freq.double().numpy(), expected, rtol=3e-6)
    assert rotary.attention_scaling == pytest.approx(attention, rel=1e-9)
