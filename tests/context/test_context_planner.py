"""The decision table (reference §5.1): engine and factor, or the error a user sees."""

from __future__ import annotations

from typing import Any

import pytest

from scaler_wizard.context import ContextPlanError, apply_context_plan, plan_context
from scaler_wizard.recipe.spec import ContextSpec
from scaler_wizard.registry import UnknownEntryError

# (native, spec, will_train) → (engine, factor, target, text expected in a warning or None)
CHOICES = [
    (2048, {}, True, ("none", 1.0, 2048, None)),
    (2048, {"target_length": 2048}, True, ("none", 1.0, 2048, None)),
    (2048, {"engine": "yarn", "target_length": 2048}, True, ("none", 1.0, 2048, None)),
    (2048, {"target_length": 8192}, True, ("yarn", 4.0, 8192, None)),
    (2048, {"scale": 2.0}, True, ("yarn", 2.0, 4096, None)),
    (2048, {"scale": 1.5}, True, ("yarn", 1.5, 3072, None)),
    (2048, {"target_length": 32768}, True, ("yarn", 16.0, 32768, "progressive stages")),
    # training-free 2×: YaRN, the best row of docs/BENCHMARKS-context.md
    # training-free ≤ 2× on a Llama-family model: Self-Extend, the best measured row
    (2048, {"target_length": 4096}, False, ("self_extend", 8.0, 4096, "eager attention")),
    (2048, {"target_length": 3000}, False, ("self_extend", 5.0, 3000, "eager attention")),
    (2048, {"target_length": 8192}, False, ("yarn", 4.0, 8192, "degrades quality")),
    (2048, {"target_length": 16384}, False, ("yarn", 8.0, 16384, "NOT RELIABLE")),
    (
        2048,
        {"engine": "dynamic", "target_length": 8192, "options": {"factor": 2}},
        False,
        ("dynamic", 2.0, 8192, None),
    ),
    (
        2048,
        {"engine": "dynamic", "target_length": 8192, "options": {"factor": 4}},
        False,
        ("dynamic", 4.0, 8192, "over-scales: the base grows as for ×13"),
    ),
    (2048, {"engine": "linear", "target_length": 65536}, True, ("linear", 32.0, 65536, "> 16")),
    (
        2048,
        {"engine": "linear", "target_length": 8192},
        False,
        ("linear", 4.0, 8192, "needs fine-tuning"),
    ),
    (2048, {"engine": "ntk", "target_length": 8192}, True, ("ntk", 4.0, 8192, "YaRN §3.1")),
    (2048, {"engine": "llama3", "target_length": 16384}, True, ("llama3", 8.0, 16384, None)),
    (8192, {"engine": "yarn", "target_length": 16384}, False, ("yarn", 2.0, 16384, None)),
    (2048, {"engine": "none"}, True, ("none", 1.0, 2048, None)),
]


@pytest.mark.parametrize(("native", "spec", "will_train", "expected"), CHOICES)
def test_choice(
    registry: Any,
    make_llama: Any,
    native: int,
    spec: dict[str, Any],
    will_train: bool,
    expected: tuple[str, float, int, str | None],
) -> None:
    engine, factor, target, warning = expected
    plan = plan_context(
        make_llama(native=native), ContextSpec(**spec), will_train=will_train, registry=registry
    )
    assert (plan.engine, plan.factor, plan.target_length) == (engine, factor, target)
    assert plan.native_length == native and plan.scale == target / native
    assert plan.reasons, "every plan explains itself"
    if warning is None:
        assert not plan.warnings
    else:
        assert any(warning in w for w in plan.warnings), plan.warnings
    if engine == "none":
        assert plan.rope_after == plan.rope_before and not plan.changes_config
    if engine == "dynamic":
        assert plan.inference_only and plan.max_position_embeddings_after == native
        assert any("factor 1" in r or "factor 2" in r or "factor 4" in r for r in plan.reasons)


ERRORS = [
    (
        {"target_length": 4096},
        True,
        "context.target_length 4096 is below the model's native context 8192; "
        "remove it or choose ≥ 8192",
        "context.target_length",
    ),
    (
        {"scale": 0.5},
        True,
        "context.scale 0.5 (4096 tokens) is below the model's native "
        "context 8192; remove it or choose a scale ≥ 1",
        "context.scale",
    ),
    (
        {"engine": "dynamic", "target_length": 16384},
        True,
        "changes frequencies with the batch length",
        "context.engine",
    ),
    (
        {"engine": "none", "target_length": 16384},
        True,
        "'none' cannot reach 16384",
        "context.engine",
    ),
    (
        {"engine": "yarn"},
        True,
        "needs context.target_length or context.scale",
        "context.target_length",
    ),
    (
        {"engine": "yarn", "target_length": 16384, "options": {"beta_fast": "fast"}},
        True,
        "context.options.beta_fast: Input should be a valid number",
        "context.options.beta_fast",
    ),
    (
        {"engine": "yarn", "target_length": 16384, "options": {"betafast": 16}},
        True,
        "context.options.betafast: Extra inputs are not permitted (engine 'yarn' accepts: "
        "beta_fast, beta_slow, attention_factor)",
        "context.options.betafast",
    ),
    (
        {"engine": "yarn", "target_length": 16384, "options": {"beta_fast": 1, "beta_slow": 2}},
        True,
        "beta_fast must be greater than beta_slow",
        "context.options",
    ),
    (
        {"engine": "dynamic", "target_length": 16384, "options": {"factor": 0.5}},
        False,
        "context.options.factor: Input should be greater than or equal to 1",
        "context.options.factor",
    ),
    (
        {"engine": "llama3", "target_length": 16384, "options": {"high_freq_factor": 0.5}},
        True,
        "high_freq_factor must be greater than low_freq_factor",
        "context.options",
    ),
    (
        {"target_length": 16384, "options": {"low_freq_factor": 1}},
        False,
        "'auto' chose it",
        "context.options.low_freq_factor",
    ),
    (
        {"engine": "none", "options": {"factor": 2}},
        True,
        "context.options.factor: Extra inputs",
        "context.options.factor",
    ),
]


@pytest.mark.parametrize(("spec", "will_train", "message", "path"), ERRORS)
def test_error(
    registry: Any,
    make_llama: Any,
    spec: dict[str, Any],
    will_train: bool,
    message: str,
    path: str,
) -> None:
    with pytest.raises(ContextPlanError) as err:
        plan_context(
            make_llama(native=8192), ContextSpec(**spec), will_train=will_train, registry=registry
        )
    assert message in str(err.value)
    assert err.value.path == path
    assert isinstance(err.value, ValueError)


def test_unknown_engine_lists_allowed(registry: Any, make_llama: Any) -> None:
    with pytest.raises(UnknownEntryError) as err:
        plan_context(
            make_llama(),
            ContextSpec(engine="yarnn", target_length=4096),
            will_train=True,
            registry=registry,
        )
    assert "'yarnn'" in str(err.value)
    assert "none, yarn, linear, dynamic, ntk, llama3" in str(err.value)


def test_auto_passes_options_to_the_chosen_engine(registry: Any, make_llama: Any) -> None:
    plan = plan_context(
        make_llama(),
        ContextSpec(target_length=8192, options={"beta_fast": 16}),
        will_train=True,
        registry=registry,
    )
    assert plan.rope_after is not None and plan.rope_after["beta_fast"] == 16


def test_options_ignored_when_nothing_to_extend(registry: Any, make_llama: Any) -> None:
    plan = plan_context(
        make_llama(), ContextSpec(options={"beta_fast": 16}), will_train=True, registry=registry
    )
    assert plan.engine == "none" and "context.options ignored" in plan.warnings[0]


def test_registry_summaries(registry: Any) -> None:
    assert registry.names() == ["none", "yarn", "linear", "dynamic", "ntk", "llama3", "self_extend"]
    assert all(entry.summary and "\n" not in entry.summary for entry in registry)


# ---- models without RoPE -----------------------------------------------------------------


def test_bloom_alibi_limit_raised_honestly(registry: Any) -> None:
    from transformers import BloomConfig

    plan = plan_context(
        BloomConfig(), ContextSpec(target_length=8192), will_train=True, registry=registry
    )
    assert (plan.engine, plan.positional, plan.native_length, plan.target_length) == (
        "none",
        "alibi",
        2048,
        8192,
    )
    assert plan.rope_after is None
    assert any("quality beyond the training length is not guaranteed" in w for w in plan.warnings)
    assert any("records no length limit" in r for r in plan.reasons)


def test_mpt_alibi_max_seq_len_raised(registry: Any) -> None:
    from transformers import MptConfig

    config = MptConfig(max_seq_len=2048)
    plan = plan_context(config, ContextSpec(scale=2.0), will_train=False, registry=registry)
    assert plan.config_updates == {"max_seq_len": 4096} and plan.changes_config
    apply_context_plan(config, plan)
    assert config.max_seq_len == 4096


def test_falcon_alibi_max_position_embeddings_raised(registry: Any) -> None:
    from transformers import FalconConfig

    config = FalconConfig(alibi=True, max_position_embeddings=2048)
    plan = plan_context(config, ContextSpec(target_length=4096), will_train=True, registry=registry)
    assert plan.positional == "alibi" and plan.max_position_embeddings_after == 4096
    apply_context_plan(config, plan)
    assert config.max_position_embeddings == 4096


@pytest.mark.parametrize("engine", ["yarn", "linear", "ntk", "dynamic", "llama3"])
def test_rope_engines_refused_on_alibi(registry: Any, engine: str) -> None:
    from transformers import BloomConfig

    with pytest.raises(ContextPlanError, match="rescales RoPE, but bloom uses ALiBi"):
        plan_context(
            BloomConfig(),
            ContextSpec(engine=engine, target_length=4096),
            will_train=True,
            registry=registry,
        )


def test_learned_absolute_positions_cannot_grow(registry: Any) -> None:
    from transformers import GPT2Config

    config = GPT2Config(n_positions=1024)
    assert plan_context(config, ContextSpec(), will_train=True, registry=registry).engine == "none"
    with pytest.raises(ContextPlanError, match="cannot add position rows"):
        plan_context(config, ContextSpec(target_length=2048), will_train=True, registry=registry)


def test_per_layer_rope_only_none(registry: Any) -> None:
    from transformers import Gemma3TextConfig

    config = Gemma3TextConfig(max_position_embeddings=32768)
    assert plan_context(config, ContextSpec(), will_train=True, registry=registry).engine == "none"
    with pytest.raises(ContextPlanError, match="per-layer-type RoPE"):
        plan_context(config, ContextSpec(target_length=65536), will_train=True, registry=registry)


def test_planning_imports_neither_torch_nor_transformers() -> None:
    """The CLI plans before it loads anything heavy."""
    import subprocess
    import sys

    code = (
        "import sys, scaler_wizard.context as c; c.default_context_registry(); "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_training_free_2x_is_yarn_where_self_extend_does_not_apply(registry: Any) -> None:
    from transformers import GemmaConfig

    config = GemmaConfig(
        vocab_size=32, hidden_size=128, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, head_dim=64, max_position_embeddings=2048,
    )  # fmt: skip
    plan = plan_context(config, ContextSpec(scale=2.0), will_train=False, registry=registry)
    assert (plan.engine, plan.factor) == ("yarn", 2.0)
    assert any("does not apply to this model" in r for r in plan.reasons)
