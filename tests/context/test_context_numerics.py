"""The frequencies transformers 5 computes from the configs our engines write equal an
independent numpy implementation of each published formula."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import rope_formulas as ref

from scaler_wizard.context import apply_context_plan, plan_context
from scaler_wizard.recipe.spec import ContextSpec

RTOL = 3e-6  # float32 inv_freq against float64 numpy

# (model, base, d, L, s): reference §1.8 table, with the ramp and attention factor it lists.
REFERENCE_TABLE = [
    ("SmolLM2-135M 16k", 1e5, 64, 8192, 2, (10, 20), 1.0693, 2.05e5),
    ("SmolLM2-135M 32k", 1e5, 64, 8192, 4, (10, 20), 1.1386, 4.18e5),
    ("TinyLlama 8k", 1e4, 64, 2048, 4, (8, 21), 1.1386, 4.18e4),
    ("TinyLlama 16k", 1e4, 64, 2048, 8, (8, 21), 1.2079, 8.56e4),
    ("Qwen2.5-0.5B 64k", 1e6, 64, 32768, 2, (11, 20), 1.0693, 2.05e6),
    ("Mistral-7B 32k", 1e4, 128, 8192, 4, (25, 50), 1.1386, 4.09e4),
]


@pytest.mark.parametrize(
    ("name", "base", "d", "length", "s", "ramp", "attn", "ntk_base"),
    REFERENCE_TABLE,
    ids=[row[0] for row in REFERENCE_TABLE],
)
def test_reference_table(
    name: str,
    base: float,
    d: int,
    length: int,
    s: float,
    ramp: tuple[int, int],
    attn: float,
    ntk_base: float,
) -> None:
    assert ref.yarn_correction_range(base, d, length) == ramp
    assert round(ref.yarn_attention_factor(s), 4) == attn
    assert base * s ** (d / (d - 2)) == pytest.approx(ntk_base, rel=5e-3)


def _hf_inv_freq(config: Any, seq_len: int | None = None) -> tuple[np.ndarray, float]:
    """inv_freq and attention scaling as the model's rotary module computes them at run time."""
    import torch
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    rotary = LlamaRotaryEmbedding(config)
    if seq_len is not None:  # a forward pass lets dynamic_rope_update grow the base
        positions = torch.arange(seq_len)[None]
        rotary(torch.zeros(1, seq_len, 8), positions)
    return rotary.inv_freq.double().numpy(), float(rotary.attention_scaling)


GEOMETRIES = [(1e4, 64, 2048), (1e5, 64, 8192), (1e4, 128, 8192), (1e4, 16, 256)]


@pytest.mark.parametrize(("base", "d", "length"), GEOMETRIES)
@pytest.mark.parametrize("s", [2, 4, 8])
@pytest.mark.parametrize("engine", ["linear", "ntk", "yarn", "llama3"])
def test_static_engines_match_published_formula(
    registry: Any, make_llama: Any, engine: str, s: int, base: float, d: int, length: int
) -> None:
    config = make_llama(native=length, theta=base, head_dim=d)
    plan = plan_context(
        config,
        ContextSpec(engine=engine, target_length=length * s),
        will_train=True,
        registry=registry,
    )
    apply_context_plan(config, plan)
    got, attention = _hf_inv_freq(config)
    expected, expected_attention = {
        "linear": (ref.linear_inv_freq(base, d, s), 1.0),
        "ntk": (ref.ntk_inv_freq(base, d, s), 1.0),
        "yarn": (ref.yarn_inv_freq(base, d, length, s), ref.yarn_attention_factor(s)),
        "llama3": (ref.llama3_inv_freq(base, d, length, s), 1.0),
    }[engine]
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)
    assert attention == pytest.approx(expected_attention, rel=1e-9)


def test_yarn_options_reach_the_maths(registry: Any, make_llama: Any) -> None:
    config = make_llama(native=2048)
    spec = ContextSpec(
        engine="yarn",
        target_length=8192,
        options={"beta_fast": 16, "beta_slow": 2, "attention_factor": 1.25},
    )
    apply_context_plan(config, plan_context(config, spec, will_train=True, registry=registry))
    got, attention = _hf_inv_freq(config)
    np.testing.assert_allclose(got, ref.yarn_inv_freq(1e4, 64, 2048, 4, 16, 2), rtol=RTOL)
    assert attention == 1.25


@pytest.mark.parametrize("factor", [1.0, 2.0])
@pytest.mark.parametrize("seq_len", [1024, 2048, 4096, 8192])
def test_dynamic_matches_formula_at_run_time(
    registry: Any, make_llama: Any, factor: float, seq_len: int
) -> None:
    config = make_llama(native=2048)
    spec = ContextSpec(engine="dynamic", target_length=8192, options={"factor": factor})
    apply_context_plan(config, plan_context(config, spec, will_train=False, registry=registry))
    assert config.max_position_embeddings == 2048  # the threshold stays native
    got, attention = _hf_inv_freq(config, seq_len=seq_len)
    expected = ref.dynamic_inv_freq(1e4, 64, factor, 2048, seq_len)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)
    assert attention == 1.0
    if seq_len <= 2048:  # below the native length the original frequencies are used exactly
        np.testing.assert_allclose(got, ref.default_inv_freq(1e4, 64), rtol=RTOL)


def test_partial_rotary_geometry(registry: Any) -> None:
    """GPT-NeoX rotates a quarter of each head: d is the rotary dim, not head_dim."""
    from transformers import GPTNeoXConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = GPTNeoXConfig(hidden_size=256, num_attention_heads=4, max_position_embeddings=2048)
    d = 16  # 64 * 0.25
    plan = plan_context(
        config, ContextSpec(engine="yarn", target_length=8192), will_train=True, registry=registry
    )
    assert plan.rope_after is not None and plan.rope_after["partial_rotary_factor"] == 0.25
    apply_context_plan(config, plan)
    inv_freq, attention = ROPE_INIT_FUNCTIONS["yarn"](config, None)
    np.testing.assert_allclose(
        inv_freq.double().numpy(), ref.yarn_inv_freq(1e4, d, 2048, 4), rtol=RTOL
    )
    assert attention == pytest.approx(0.1 * math.log(4) + 1)
