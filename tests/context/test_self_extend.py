"""Self-Extend: the attention patch against plain maths, generation with a cache, the planner."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from scaler_wizard.context import ContextPlanError, apply_context_plan, plan_context
from scaler_wizard.context.self_extend import (
    GROUP_ATTR,
    WINDOW_ATTR,
    SelfExtendSettings,
    apply_self_extend,
    patch_from_config,
    remove_self_extend,
    self_extend_settings,
)
from scaler_wizard.recipe.spec import ContextSpec

torch = pytest.importorskip("torch")


def _ids(model: Any, length: int, batch: int = 1, seed: int = 1) -> Any:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, model.config.vocab_size, (batch, length), generator=generator)


def _logits(model: Any, ids: Any, **kwargs: Any) -> Any:
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False, **kwargs).logits


def reference_logits(model: Any, ids: Any, group: int, window: int) -> Any:
    """Self-Extend written plainly, in float64, from the weights: explicit positions per head."""
    cfg, m = model.config, model.model
    d, heads, kv_heads = cfg.head_dim, cfg.num_attention_heads, cfg.num_key_value_heads
    theta = cfg.rope_parameters["rope_theta"]
    inv_freq = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    pos = torch.arange(ids.shape[1])
    i, j = pos[:, None], pos[None, :]

    def rope(v: Any, p: Any) -> Any:  # v: [T, d]; the half-split RoPE of Llama
        angle = p[:, None].double() * inv_freq[None]
        a, b = v[:, : d // 2], v[:, d // 2 :]
        return torch.cat([a * angle.cos() - b * angle.sin(), b * angle.cos() + a * angle.sin()], -1)

    def rms(x: Any, weight: Any) -> Any:
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + cfg.rms_norm_eps) * weight.double()

    def lin(x: Any, layer: Any) -> Any:
        return x @ layer.weight.double().T

    x = m.embed_tokens.weight.double()[ids[0]]
    for block in m.layers:
        att, h = block.self_attn, rms(x, block.input_layernorm.weight)
        q = lin(h, att.q_proj).view(-1, heads, d)
        k = lin(h, att.k_proj).view(-1, kv_heads, d)
        v = lin(h, att.v_proj).view(-1, kv_heads, d)
        outs = []
        for head in range(heads):
            kv = head // (heads // kv_heads)
            near = rope(q[:, head], pos) @ rope(k[:, kv], pos).T
            grouped_q = pos // group + window - window // group
            far = rope(q[:, head], grouped_q) @ rope(k[:, kv], pos // group).T
            scores = torch.where(i - j < window, near, far) / math.sqrt(d)
            scores = scores.masked_fill(j > i, float("-inf"))
            outs.append(torch.softmax(scores, -1) @ v[:, kv])
        x = x + lin(torch.cat(outs, -1), att.o_proj)
        h = rms(x, block.post_attention_layernorm.weight)
        gate = torch.nn.functional.silu(lin(h, block.mlp.gate_proj))
        x = x + lin(gate * lin(h, block.mlp.up_proj), block.mlp.down_proj)
    return rms(x, m.norm.weight) @ model.lm_head.weight.double().T


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_window_covering_the_input_changes_nothing(tiny_model: Any, attn: str) -> None:
    tiny_model.set_attn_implementation(attn)
    ids = _ids(tiny_model, 40, batch=2)
    mask = torch.ones_like(ids)
    mask[1, :5] = 0  # left padding on the second row
    before = _logits(tiny_model, ids, attention_mask=mask)
    assert apply_self_extend(tiny_model, group_size=4, window=40) == 2
    after = _logits(tiny_model, ids, attention_mask=mask)
    keep = mask.bool()
    assert torch.allclose(after[keep], before[keep], atol=1e-5)


@pytest.mark.parametrize("window", [1, 8, 100])
def test_group_size_one_changes_nothing(tiny_model: Any, window: int) -> None:
    ids = _ids(tiny_model, 40)
    before = _logits(tiny_model, ids)
    apply_self_extend(tiny_model, group_size=1, window=window)
    assert torch.allclose(_logits(tiny_model, ids), before, atol=1e-5)


def test_reference_is_the_plain_model_when_nothing_is_grouped(tiny_model: Any) -> None:
    ids = _ids(tiny_model, 40)
    expected = reference_logits(tiny_model, ids, group=2, window=40)
    assert torch.allclose(_logits(tiny_model, ids)[0].double(), expected, atol=1e-5)


def test_patch_equals_the_reference(tiny_model: Any) -> None:
    ids = _ids(tiny_model, 40)
    plain = _logits(tiny_model, ids)[0]
    apply_self_extend(tiny_model, group_size=2, window=8)
    patched = _logits(tiny_model, ids)[0]
    expected = reference_logits(tiny_model, ids, group=2, window=8)
    assert torch.allclose(patched.double(), expected, atol=1e-5)
    assert (patched - plain).abs().max() > 1e-3, "grouping must change far-away scores"
    assert torch.allclose(patched[:8], plain[:8], atol=1e-5), "the first w tokens are exact"


def test_query_chunks_do_not_change_the_result(tiny_model: Any) -> None:
    ids = _ids(tiny_model, 40)
    apply_self_extend(tiny_model, group_size=3, window=5)
    whole = _logits(tiny_model, ids)
    apply_self_extend(tiny_model, group_size=3, window=5, query_chunk=7)
    assert torch.allclose(_logits(tiny_model, ids), whole, atol=1e-6)


def test_cached_greedy_generation_equals_full_forwards(tiny_model: Any) -> None:
    apply_self_extend(tiny_model, group_size=2, window=8)
    prompt = _ids(tiny_model, 30)
    with torch.no_grad():
        generated = tiny_model.generate(
            prompt, max_new_tokens=4, min_new_tokens=4, do_sample=False, use_cache=True
        )
    ids = prompt
    for _ in range(4):
        next_token = _logits(tiny_model, ids)[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, next_token], dim=1)
    assert generated.tolist() == ids.tolist()


def test_cached_decode_logits_equal_full_forward(tiny_model: Any) -> None:
    apply_self_extend(tiny_model, group_size=2, window=8)
    ids = _ids(tiny_model, 34)
    with torch.no_grad():
        out = tiny_model(input_ids=ids[:, :30], use_cache=True)
        cache = out.past_key_values
        steps = [tiny_model(input_ids=ids[:, t : t + 1], cache=cache, use_cache=True)
                 for t in range(30, 34)]  # fmt: skip
    decoded = torch.cat([step.logits for step in steps], dim=1)
    assert torch.allclose(decoded, _logits(tiny_model, ids)[:, 30:], atol=1e-5)


def test_remove_and_reapply_from_a_saved_config(tiny_model: Any, tmp_path: Path) -> None:
    from transformers import LlamaForCausalLM

    ids = _ids(tiny_model, 40)
    plain = _logits(tiny_model, ids)
    apply_self_extend(tiny_model, group_size=2, window=8)
    patched = _logits(tiny_model, ids)
    tiny_model.save_pretrained(tmp_path)
    assert remove_self_extend(tiny_model) == 2
    assert self_extend_settings(tiny_model) is None
    assert not hasattr(tiny_model.config, GROUP_ATTR)
    assert torch.allclose(_logits(tiny_model, ids), plain, atol=1e-6)

    loaded = LlamaForCausalLM.from_pretrained(tmp_path).eval()
    assert (getattr(loaded.config, GROUP_ATTR), getattr(loaded.config, WINDOW_ATTR)) == (2, 8)
    assert patch_from_config(loaded) == SelfExtendSettings(2, 8)
    assert torch.allclose(_logits(loaded, ids), patched, atol=1e-6)
    assert patch_from_config(tiny_model) is None  # nothing recorded: nothing applied


@pytest.mark.parametrize("model_type", ["mistral", "qwen2"])
def test_other_llama_family_models(model_type: str) -> None:
    import transformers

    name = {"mistral": "Mistral", "qwen2": "Qwen2"}[model_type]
    config = getattr(transformers, f"{name}Config")(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    model = getattr(transformers, f"{name}ForCausalLM")(config).eval()
    ids = _ids(model, 24)
    before = _logits(model, ids)
    apply_self_extend(model, group_size=3, window=24)
    assert torch.allclose(_logits(model, ids), before, atol=1e-5)
    apply_self_extend(model, group_size=3, window=4)
    assert (_logits(model, ids) - before).abs().max() > 1e-5  # the patch is active


def test_unsupported_models_and_settings_are_refused(tiny_model: Any) -> None:
    with pytest.raises(ValueError, match="not 'gpt2'"):
        apply_self_extend(SimpleNamespace(config=SimpleNamespace(model_type="gpt2")), 2, 8)
    with pytest.raises(ValueError, match="≥ 1"):
        apply_self_extend(tiny_model, 0, 8)


# --- the engine and the planner -------------------------------------------------------------


def _plan(make_llama: Any, registry: Any, will_train: bool = False, **spec: Any) -> Any:
    return plan_context(
        make_llama(native=2048), ContextSpec(**spec), will_train=will_train, registry=registry
    )


def test_refused_when_training(registry: Any, make_llama: Any) -> None:
    with pytest.raises(ContextPlanError) as err:
        _plan(make_llama, registry, True, engine="self_extend", target_length=8192)
    assert "inference only" in str(err.value) and "'yarn'" in str(err.value)
    assert err.value.path == "context.engine"


@pytest.mark.parametrize(("target", "will_train"), [(3000, True), (4096, True), (6144, False),
                                                    (8192, False), (32768, False)])  # fmt: skip
def test_auto_chooses_it_only_training_free_up_to_2x(
    registry: Any, make_llama: Any, target: int, will_train: bool
) -> None:
    assert _plan(make_llama, registry, will_train, target_length=target).engine == "yarn"
    if not will_train:
        return
    chosen = _plan(make_llama, registry, target_length=target)
    assert chosen.engine == "self_extend"  # the best measured row at 2× (BENCHMARKS-context)


@pytest.mark.parametrize(("target", "group", "window"), [(8192, 16, 512), (6144, 12, 512)])
def test_default_group_and_window_follow_the_rule(
    registry: Any, make_llama: Any, target: int, group: int, window: int
) -> None:
    plan = _plan(make_llama, registry, engine="self_extend", target_length=target)
    assert plan.config_updates == {GROUP_ATTR: group, WINDOW_ATTR: window}
    assert window + (target - window) / group < 2048 / 2  # the rule, conservative end
    assert window + (target - window) / (group - 1) >= 2048 / 2  # and G is the smallest
    assert plan.engine == "self_extend" and plan.inference_only and plan.factor == group
    assert plan.rope_after == plan.rope_before and plan.max_position_embeddings_after == target
    assert any("patch_from_config" in r for r in plan.reasons)


def test_group_size_given_picks_a_window_within_the_rule(registry: Any, make_llama: Any) -> None:
    plan = _plan(
        make_llama, registry, engine="self_extend", target_length=8192, options={"group_size": 12}
    )
    window = plan.config_updates[WINDOW_ATTR]
    assert window is not None and 1 <= window <= 512
    assert window + (8192 - window) / 12 < 1024 <= window + 1 + (8192 - window - 1) / 12


def test_plan_applies_and_patches_a_model(registry: Any, tiny_tokenizer: Any) -> None:
    from transformers import LlamaForCausalLM

    from tiny_models import build_tiny_model

    config = build_tiny_model(tiny_tokenizer).config
    spec = ContextSpec(engine="self_extend", target_length=1024)
    plan = plan_context(config, spec, will_train=False, registry=registry)
    apply_context_plan(config, plan)
    model = LlamaForCausalLM(config).eval()
    settings = patch_from_config(model)
    assert settings is not None and config.max_position_embeddings == 1024
    assert (settings.group_size, settings.window) == (
        plan.config_updates[GROUP_ATTR],
        plan.config_updates[WINDOW_ATTR],
    )


@pytest.mark.parametrize(
    ("options", "path", "message"),
    [
        ({"grup_size": 4}, "context.options.grup_size", "accepts: group_size, window"),
        ({"group_size": 0}, "context.options.group_size", "greater than or equal to 1"),
        ({"window": "wide"}, "context.options.window", "valid integer"),
        ({"window": 2048}, "context.options.window", "below the native context 2048"),
        ({"window": 1024}, "context.options.window", "no room for grouped positions"),
        ({"group_size": 4}, "context.options.group_size", "use at least"),
        ({"group_size": 2, "window": 1000}, "context.options.group_size", "reaches only"),
    ],
)
def test_bad_options(
    registry: Any, make_llama: Any, options: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(ContextPlanError) as err:
        _plan(make_llama, registry, engine="self_extend", target_length=8192, options=options)
    assert err.value.path == path and message in str(err.value)


def test_warns_beyond_two_thirds_and_refuses_scaled_rope(registry: Any, make_llama: Any) -> None:
    plan = _plan(
        make_llama, registry, engine="self_extend", target_length=8192,
        options={"group_size": 8, "window": 512},
    )  # fmt: skip
    assert any("not below 2/3" in w for w in plan.warnings)  # 512 + 7680/8 = 1472 ≥ 1365
    scaled = make_llama(native=4096, rope_scaling={"rope_type": "linear", "factor": 2.0})
    with pytest.raises(ContextPlanError, match="only plain RoPE"):
        plan_context(
            scaled, ContextSpec(engine="self_extend", target_length=16384),
            will_train=False, registry=registry,
        )  # fmt: skip
