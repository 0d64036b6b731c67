"""LoRA growth: reports what it did, resolves rank, and merging keeps the function."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from scaler_wizard.growth import GrowthContext
from scaler_wizard.growth.lora import LoraOptions, apply_lora
from scaler_wizard.growth.rank import resolve_rank
from scaler_wizard.models.loader import count_parameters

CONTEXT = GrowthContext(train_tokens=50_000, memory_gib=8.0, has_cuda=False)


def test_lora_reports_parameters_and_trains_only_adapters(tiny_model: Any) -> None:
    before, _ = count_parameters(tiny_model)
    grown, report = apply_lora(tiny_model, LoraOptions(r=4), CONTEXT)
    assert report.parameters_before == before
    assert report.parameters_after > before
    assert report.trainable == report.parameters_after - before
    names = [n for n, p in grown.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    assert report.details["r"] == 4 and report.details["alpha"] == 8


def test_new_adapter_starts_as_identity(tiny_model: Any) -> None:
    ids = torch.tensor([[1, 5, 9, 12, 40]])
    with torch.no_grad():
        expected = tiny_model(ids).logits
    grown, _ = apply_lora(tiny_model, LoraOptions(r=4, dropout=0.0), CONTEXT)
    with torch.no_grad():
        assert torch.allclose(grown(ids).logits, expected, atol=1e-6)


def test_merged_adapter_equals_unmerged_forward(tiny_model: Any) -> None:
    grown, _ = apply_lora(tiny_model, LoraOptions(r=4, dropout=0.0), CONTEXT)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in grown.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.05)  # a trained-looking, non-zero adapter
    grown.eval()
    ids = torch.tensor([[3, 7, 11, 19, 23, 29]])
    with torch.no_grad():
        unmerged = grown(ids).logits
        merged = grown.merge_and_unload()(ids).logits
    assert torch.allclose(unmerged, merged, atol=1e-5)


@pytest.mark.parametrize(
    ("tokens", "cuda", "rank"),
    [
        (10_000, False, 8),
        (2_000_000, False, 16),
        (50_000_000, False, 16),
        (50_000_000, True, 32),
        (500_000_000, True, 64),
    ],
)
def test_rank_resolution_table(tokens: int, cuda: bool, rank: int) -> None:
    choice = resolve_rank(tokens, cuda)
    assert choice.rank == rank and choice.alpha == 2 * rank
    assert f"{tokens:,}" in choice.reason


def test_auto_rank_is_explained_in_report(tiny_model: Any) -> None:
    _, report = apply_lora(tiny_model, LoraOptions(), CONTEXT)
    assert report.details["r"] == 8
    assert "planned training tokens" in report.details["rank_reason"]


IDS = torch.tensor([[1, 5, 9, 12, 40, 7, 3]])


def _perturb_adapters(model: Any, seed: int = 1) -> None:
    """Move every adapter off its init, as training would, so merging has something to fold."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_A" in name or "lora_B" in name:
                param.add_(torch.randn_like(param) * 0.05)


@pytest.mark.parametrize(
    ("init", "start_atol"),
    [("default", 1e-6), ("gaussian", 1e-6), ("pissa", 1e-4), ("olora", 1e-4)],
)
def test_every_init_trains_only_adapters_and_starts_at_the_base(
    tiny_model: Any, init: str, start_atol: float
) -> None:
    with torch.no_grad():
        base = tiny_model(IDS).logits
    grown, report = apply_lora(
        tiny_model, LoraOptions.model_validate({"r": 4, "dropout": 0.0, "init": init}), CONTEXT
    )
    trainable = [n for n, p in grown.named_parameters() if p.requires_grad]
    assert trainable and all("lora_A" in n or "lora_B" in n for n in trainable)
    assert report.details["init"] == init
    assert report.details.get("base_weights_modified", False) == (init in ("pissa", "olora"))
    assert (report.parameters_after, report.trainable) == count_parameters(grown)
    grown.eval()
    with torch.no_grad():
        # default/gaussian: B = 0, so exactly the base; PiSSA/OLoRA: W_res + BA = W, up to rounding.
        assert torch.allclose(grown(IDS).logits, base, atol=start_atol)


@pytest.mark.parametrize("init", ["pissa", "olora"])
def test_base_modifying_inits_merge_to_the_unmerged_function(tiny_model: Any, init: str) -> None:
    grown, _ = apply_lora(
        tiny_model, LoraOptions.model_validate({"r": 4, "dropout": 0.0, "init": init}), CONTEXT
    )
    _perturb_adapters(grown)
    grown.eval()
    with torch.no_grad():
        unmerged = grown(IDS).logits
        merged_model = grown.merge_and_unload()
        merged = merged_model(IDS).logits
    assert not any("lora_" in n for n, _ in merged_model.named_parameters())
    assert torch.allclose(unmerged, merged, atol=1e-4)


@pytest.mark.parametrize("init", ["pissa", "olora"])
def test_base_modifying_init_really_moves_the_base_weights(tiny_model: Any, init: str) -> None:
    """Guards the test above: the init must have rewritten W, or merging proves nothing new."""
    original = tiny_model.model.layers[0].self_attn.q_proj.weight.detach().clone()
    grown, _ = apply_lora(tiny_model, LoraOptions.model_validate({"r": 4, "init": init}), CONTEXT)
    residual = grown.base_model.model.model.layers[0].self_attn.q_proj.base_layer.weight
    assert not torch.allclose(residual, original, atol=1e-3)


def test_lora_plus_gives_b_matrices_their_own_learning_rate(tiny_model: Any) -> None:
    from scaler_wizard.train.loop import param_groups

    context = GrowthContext(train_tokens=50_000, memory_gib=8.0, has_cuda=False)
    grown, report = apply_lora(tiny_model, LoraOptions(r=4, lora_plus_ratio=16), context)
    assert context.needs.lr_multipliers == {"lora_B": 16}
    assert report.details["lora_plus_ratio"] == 16
    groups = param_groups(grown, 1e-4, context.needs.lr_multipliers)
    by_lr = {g["lr"]: {id(p) for p in g["params"]} for g in groups}
    assert sorted(by_lr) == pytest.approx([1e-4, 16e-4])
    b_ids = {id(p) for n, p in grown.named_parameters() if "lora_B" in n}
    assert by_lr[max(by_lr)] == b_ids


def test_without_lora_plus_no_multiplier_is_asked(tiny_model: Any) -> None:
    context = GrowthContext(train_tokens=50_000, memory_gib=8.0, has_cuda=False)
    apply_lora(tiny_model, LoraOptions(r=4), context)
    assert context.needs.lr_multipliers == {}


def test_rank_and_alpha_patterns_give_a_module_its_own_rank(tiny_model: Any) -> None:
    options = LoraOptions.model_validate(
        {
            "r": 4,
            "target_modules": ["q_proj", "v_proj"],
            "rank_pattern": {"layers.0.self_attn.q_proj": 8},
            "alpha_pattern": {"v_proj": 2},
        }
    )
    grown, report = apply_lora(tiny_model, options, CONTEXT)
    layers = grown.base_model.model.model.layers
    assert layers[0].self_attn.q_proj.lora_A["default"].weight.shape[0] == 8
    assert layers[1].self_attn.q_proj.lora_A["default"].weight.shape[0] == 4
    assert layers[0].self_attn.v_proj.lora_A["default"].weight.shape[0] == 4
    assert layers[1].self_attn.v_proj.scaling["default"] == pytest.approx(2 / 4)
    assert layers[1].self_attn.q_proj.scaling["default"] == pytest.approx(8 / 4)
    assert report.details["rank_pattern"] == {"layers.0.self_attn.q_proj": 8}
    assert (report.parameters_after, report.trainable) == count_parameters(grown)


LINEAR_LIST = "down_proj, gate_proj, k_proj, lm_head, o_proj, q_proj, up_proj, v_proj"


@pytest.mark.parametrize(
    ("options", "path", "message"),
    [
        (
            {"r": 4, "target_modules": ["q_proj", "qproj"]},
            "growth.options.target_modules",
            f"unknown target module 'qproj'; linear modules here: {LINEAR_LIST}",
        ),
        (
            {"r": 4, "target_modules": ["mlp"]},  # a module, but not a linear one
            "growth.options.target_modules",
            "unknown target module 'mlp'",
        ),
        (
            {"r": 40, "target_modules": ["q_proj", "k_proj"]},
            "growth.options.r",
            "r=40 is larger than the smallest targeted layer allows: "
            "model.layers.0.self_attn.k_proj (64→32) takes r ≤ 32",
        ),
        (
            {"r": 4, "rank_pattern": {"v_proj": 33}},
            "growth.options.rank_pattern.v_proj",
            "rank=33",
        ),
        (
            {"r": 4, "target_modules": ["q_proj"], "rank_pattern": {"k_proj": 2}},
            "growth.options.rank_pattern.k_proj",
            "matches no targeted module; targeted modules: q_proj",
        ),
        (
            {"r": 4, "alpha_pattern": {"lm_head": 2}},  # all-linear leaves the head out
            "growth.options.alpha_pattern.lm_head",
            "matches no targeted module",
        ),
    ],
)
def test_options_the_model_cannot_take_name_their_path(
    tiny_model: Any, options: dict[str, Any], path: str, message: str
) -> None:
    from scaler_wizard.growth.base import GrowthError

    untouched = {n for n, _ in tiny_model.named_modules()}
    with pytest.raises(GrowthError) as caught:
        apply_lora(tiny_model, LoraOptions.model_validate(options), CONTEXT)
    assert caught.value.path == path
    assert message in caught.value.message
    assert caught.value.path_for(2) == path.replace("growth.", "growth[2].")
    assert {n for n, _ in tiny_model.named_modules()} == untouched  # failed before wrapping


def test_checks_work_on_a_meta_model(tiny_model: Any) -> None:
    """The plan step can validate targets without loading weights."""
    from transformers import AutoModelForCausalLM

    from scaler_wizard.growth.base import GrowthError
    from scaler_wizard.growth.lora import validate_lora

    with torch.device("meta"):
        meta = AutoModelForCausalLM.from_config(tiny_model.config)
    layers = validate_lora(meta, LoraOptions(r=4))
    assert len(layers) == 7 * 2 and all("lm_head" not in x.name for x in layers)
    with pytest.raises(GrowthError, match="qproj"):
        validate_lora(meta, LoraOptions(r=4, target_modules=["qproj"]))


@pytest.mark.parametrize(
    ("budget", "expected_rank"),
    [
        ({"parameter_budget": 10_000_000}, 8),
        ({"parameter_budget": 5000}, 2),
        ({"memory_budget_gib": 5000 * 16 / 2**30}, 2),
    ],
)
def test_budgets_lower_the_auto_rank_and_say_why(
    tiny_model: Any, budget: dict[str, Any], expected_rank: int
) -> None:
    from scaler_wizard.growth.targets import resolve_targets

    per_rank = sum(
        t.in_features + t.out_features for t in resolve_targets(tiny_model, "all-linear")
    )
    options, reason = LoraOptions(**budget).resolved(CONTEXT, tiny_model)
    assert options.r == expected_rank
    assert expected_rank * per_rank <= next(iter(budget.values())) * (
        1 if "parameter_budget" in budget else 2**30 / 16
    )
    assert reason is not None and ("lowered" in reason) == (expected_rank < 8)
    _, report = apply_lora(tiny_model, LoraOptions(dropout=0.0, **budget), CONTEXT)
    assert report.trainable == expected_rank * per_rank


def test_budget_too_small_for_rank_one_is_a_clear_error(tiny_model: Any) -> None:
    from scaler_wizard.growth.base import GrowthError

    with pytest.raises(GrowthError, match="below rank 1") as info:
        LoraOptions(parameter_budget=10).resolved(CONTEXT, tiny_model)
    assert info.value.path == "growth.options.parameter_budget"


def test_budgets_need_auto_rank() -> None:
    with pytest.raises(ValueError, match="set r: auto"):
        LoraOptions(r=8, parameter_budget=1000)
