"""Choose engine and factor for a context target (reference §5.1) and explain the choice.

Pure: reads a config object (a transformers PretrainedConfig, or anything with the same
attributes) and returns a ContextPlan; nothing is written until `apply_context_plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from scaler_wizard.context.base import ContextEngine, RopeGeometry
from scaler_wizard.context.engines import self_extend
from scaler_wizard.context.non_rope import plan_without_rope
from scaler_wizard.context.plan import ContextPlan, ContextPlanError, resolve_target
from scaler_wizard.context.quirks import sliding_window_update
from scaler_wizard.models import hf_compat
from scaler_wizard.recipe.spec import ContextSpec
from scaler_wizard.registry import Entry, Registry

# Existing scaling types whose keys the engines know how to strip and replace.
COMPOSABLE_TYPES = {"default", "linear", "dynamic", "yarn", "llama3", "longrope"}
STATIC_WARN_SCALE = 16  # beyond this no published static recipe holds without staging


def plan_context(
    config: Any, spec: ContextSpec, *, will_train: bool, registry: Registry[ContextEngine]
) -> ContextPlan:
    """Resolve `spec` against the model's config. Raises ContextPlanError, or the registry's
    UnknownEntryError for an unknown engine name."""
    explicit = None if spec.engine in ("auto", "none") else registry.get(spec.engine)
    if hf_compat.uses_alibi(config) or hf_compat.read_rope(config) is None:
        return plan_without_rope(config, spec, will_train=will_train)
    if explicit is not None or spec.engine == "none":
        _options(registry.get(spec.engine), spec, chosen_by_auto=False)  # typos fail early
    geometry = read_geometry(config)
    native, current = geometry.native_length, geometry.max_position_embeddings
    target = resolve_target(spec, native)
    base: dict[str, Any] = {
        "native_length": native,
        "will_train": will_train,
        "rope_before": dict(geometry.rope),
        "max_position_embeddings_before": current,
    }
    ignored = ["context.options ignored: no extension needed"] if spec.options else []
    if target is None:
        if explicit is not None:
            raise ContextPlanError(
                f"context.engine {spec.engine!r} needs context.target_length or context.scale",
                "context.target_length",
            )
        return _unchanged(
            base, geometry, current, "no context target given: RoPE left as is", ignored
        )
    if target == native:
        reason = f"target equals the native context {native}: nothing to extend"
        return _unchanged(base, geometry, target, reason, ignored)
    if target <= current and explicit is None:
        return _unchanged(
            base,
            geometry,
            target,
            f"{describe(geometry.rope)} already reaches {current} tokens",
            ignored,
        )
    if spec.engine == "none":
        raise ContextPlanError(
            f"context.engine 'none' cannot reach {target} tokens on a RoPE model trained on "
            f"{native}: positions beyond it are extrapolated; use 'auto' or a RoPE engine",
            "context.engine",
        )
    _check_composable(config, geometry)
    s = target / native
    name, reasons, warnings = _choose(spec.engine, s, will_train, _self_extend_fits(config))
    entry = registry.get(name)
    if name == "self_extend" and will_train:
        raise ContextPlanError(
            "context.engine 'self_extend' is a training-free attention patch for inference "
            "only: the trainer does not apply it, so fine-tuning would adapt the model to "
            "positions it will not see at inference; use 'yarn' for training",
            "context.engine",
        )
    options = _options(entry, spec, chosen_by_auto=explicit is None)
    update = entry.impl(geometry, target, options)
    if update.inference_only and will_train:
        raise ContextPlanError(
            f"context.engine {name!r} changes frequencies with the batch length, so training "
            "would see inconsistent positions; use 'yarn' for training",
            "context.engine",
        )
    reasons += list(update.notes)
    warnings += list(update.warnings)
    warnings += _engine_warnings(name, s, will_train, update.inference_only)
    _compose(geometry, update.rope, name, reasons, warnings)
    if explicit is not None and target < current:
        warnings.append(f"this lowers the context the config allowed from {current} to {target}")
    updates, sw_reasons, sw_warnings = sliding_window_update(config, target)
    if name == "self_extend":  # the patch's G/w travel in the config (patch_from_config)
        updates = {**updates, **self_extend.self_extend_config_updates(geometry, target, options)}
    return ContextPlan(
        **base,
        engine=name,
        factor=update.factor,
        scale=s,
        target_length=target,
        inference_only=update.inference_only,
        rope_after=update.rope,
        max_position_embeddings_after=update.max_position_embeddings,
        config_updates=updates,
        reasons=reasons + sw_reasons,
        warnings=warnings + sw_warnings,
    )


def read_geometry(config: Any) -> RopeGeometry:
    rope = hf_compat.read_rope(config)
    if rope is None:
        raise ContextPlanError("the model has no RoPE parameters")
    return RopeGeometry(
        rope=rope,
        rope_theta=float(rope["rope_theta"]),
        rotary_dim=hf_compat.rotary_dim(config),
        native_length=hf_compat.native_context(config),
        max_position_embeddings=int(config.max_position_embeddings),
    )


def describe(rope: Mapping[str, Any]) -> str:
    kind = rope.get("rope_type", "default")
    if kind == "default":
        return f"plain RoPE (θ={rope['rope_theta']:g})"
    text = f"{kind} ×{rope.get('factor', '?')}" if "factor" in rope else str(kind)
    original = rope.get("original_max_position_embeddings")
    return f"{text} (original {original})" if original else text


def _self_extend_fits(config: Any) -> bool:
    """Whether the Self-Extend patch applies: a supported attention and plain RoPE."""
    from scaler_wizard.context.self_extend import SUPPORTED_MODEL_TYPES

    rope = hf_compat.read_rope(config) or {}
    supported = getattr(config, "model_type", "") in SUPPORTED_MODEL_TYPES
    return supported and rope.get("rope_type", "default") == "default"


def _choose(
    engine: str, s: float, will_train: bool, self_extend_fits: bool = False
) -> tuple[str, list[str], list[str]]:
    """The engine for 'auto' (reference §5.1 steps 4-6), or the explicit one."""
    if engine != "auto":
        return engine, [f"engine {engine!r} requested, scale ×{s:g}"], []
    if will_train:
        return "yarn", [f"training follows: static YaRN with factor {s:g} (§5.1 step 5)"], []
    if s <= 2 and self_extend_fits:
        why = (
            f"no training and scale ×{s:g} ≤ 2 on a Llama-family model with plain RoPE: "
            "Self-Extend, the best training-free row measured at 2× (SmolLM2-135M at 16k: "
            "passkey 4/6, perplexity 4.79 at 16k and 4.99 inside the native window, against "
            "static YaRN's 2/6, 4.89 and 5.10; docs/BENCHMARKS-context.md); it runs eager "
            "attention, about 2× slower than SDPA: choose 'yarn' when speed matters more"
        )
        return "self_extend", [why], []
    if s <= 2:
        why = (
            f"no training and scale ×{s:g} ≤ 2: static YaRN, the best training-free RoPE "
            "scaling measured at 2× (SmolLM2-135M at 16k: passkey 2/6 and perplexity 4.89, "
            "against Dynamic NTK's 1/6 and 4.97; docs/BENCHMARKS-context.md), at about 2 % "
            "perplexity inside the native window (Self-Extend, better still, does not apply to "
            "this model)"
        )
        return "yarn", [why], []
    return (
        "yarn",
        [
            f"no training and scale ×{s:g} > 2: static YaRN, the best training-free "
            "static method at this scale"
        ],
        [],
    )


def _engine_warnings(name: str, s: float, will_train: bool, inference_only: bool) -> list[str]:
    warnings = []
    if name == "yarn" and not will_train and s > 4:
        warnings.append(
            f"NOT RELIABLE: ×{s:g} without training; no training-free method holds beyond "
            "about ×4. Expect broken outputs at the target length; fine-tune, or measure "
            "passkey and bucketed loss before trusting it"
        )
    elif name == "yarn" and not will_train and s > 2:
        warnings.append(f"×{s:g} without training degrades quality; fine-tuning is advised")
    if name == "yarn" and will_train and s > 8:
        warnings.append(
            f"×{s:g} in one stage is a big jump; consider progressive stages (≤ 4-8× each, "
            "keeping the original length and raising the factor)"
        )
    if name == "linear" and not will_train:
        warnings.append("Position Interpolation needs fine-tuning (~200-1000 steps)")
    if name == "ntk" and will_train:
        warnings.append("fine-tuning with NTK-aware scaling does worse than PI/YaRN (YaRN §3.1)")
    if not inference_only and name != "none" and s > STATIC_WARN_SCALE:
        warnings.append(f"static scale ×{s:g} > {STATIC_WARN_SCALE}: use progressive stages")
    return warnings


def _compose(
    geometry: RopeGeometry,
    after: dict[str, Any],
    name: str,
    reasons: list[str],
    warnings: list[str],
) -> None:
    """Say what existing scaling was there and what replaced it; never silently overwrite."""
    old_type = geometry.rope.get("rope_type", "default")
    if old_type == "default":
        return
    reasons.append(
        f"the model already had {describe(geometry.rope)}; replaced (not stacked) by "
        f"{describe(after)}, relative to the pre-training length {geometry.native_length}"
    )
    if after.get("rope_type", "default") != old_type:
        warnings.append(
            f"RoPE type changes from {old_type!r} to {after.get('rope_type')!r} ({name}): "
            f"the model was tuned with {old_type} scaling; expect to need fine-tuning"
        )
    if old_type == "linear" and "original_max_position_embeddings" not in geometry.rope:
        warnings.append(
            f"existing linear scaling records no original length; assumed "
            f"max_position_embeddings {geometry.native_length} is the pre-training length"
        )


def _check_composable(config: Any, geometry: RopeGeometry) -> None:
    if hf_compat.rope_is_per_layer(config):
        raise ContextPlanError(
            "this model has per-layer-type RoPE parameters (e.g. Gemma 3 sliding/full layers); "
            "only engine 'none' is supported for it",
            "context.engine",
        )
    old_type = geometry.rope.get("rope_type", "default")
    if old_type not in COMPOSABLE_TYPES:
        raise ContextPlanError(
            f"the model uses rope_type {old_type!r}, which cannot be re-scaled safely; "
            "only engine 'none' is supported for it",
            "context.engine",
        )


def _options(entry: Entry[ContextEngine], spec: ContextSpec, *, chosen_by_auto: bool) -> BaseModel:
    try:
        return entry.options.model_validate(spec.options)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        path = f"context.options.{field}" if field else "context.options"
        allowed = ", ".join(entry.options.model_fields) or "no options"
        auto = " ('auto' chose it; set context.engine to pick another)" if chosen_by_auto else ""
        raise ContextPlanError(
            f"{path}: {err['msg']} (engine {entry.name!r} accepts: {allowed}){auto}", path
        ) from None


def _unchanged(
    base: dict[str, Any], geometry: RopeGeometry, target: int, reason: str, warnings: list[str]
) -> ContextPlan:
    return ContextPlan(
        **base,
        engine="none",
        factor=1.0,
        scale=target / geometry.native_length,
        target_length=target,
        rope_after=dict(geometry.rope),
        max_position_embeddings_after=geometry.max_position_embeddings,
        reasons=[reason],
        warnings=warnings,
    )
