"""Models without RoPE: ALiBi (BLOOM, MPT, Falcon-alibi) and learned absolute positions (GPT-2).

ALiBi biases are computed for any length, so there is nothing to interpolate: "extending" is
raising the recorded limit, honestly labelled (ALiBi generalises only modestly past its training
length, YaRN §1). Learned absolute positions have a fixed number of rows and cannot be extended
by a config change at all.
"""

from __future__ import annotations

from typing import Any

from scaler_wizard.context.plan import ContextPlan, ContextPlanError, resolve_target
from scaler_wizard.models.hf_compat import uses_alibi
from scaler_wizard.recipe.spec import ContextSpec

# Where architectures record their context limit, most common first.
LIMIT_ATTRS = ("max_position_embeddings", "max_seq_len", "n_positions", "seq_length")
# BLOOM's config records no length at all; every BLOOM model was pre-trained on 2048-token
# sequences (BigScience, arXiv:2211.05100).
KNOWN_NATIVE = {"bloom": 2048}


def limit_attr(config: Any) -> str | None:
    for name in LIMIT_ATTRS:
        if isinstance(getattr(config, name, None), int):
            return name
    return None


def plan_without_rope(config: Any, spec: ContextSpec, *, will_train: bool) -> ContextPlan:
    model_type = getattr(config, "model_type", "") or "this model"
    alibi = uses_alibi(config)
    kind = "ALiBi" if alibi else "learned absolute position embeddings"
    if spec.engine not in ("auto", "none"):
        raise ContextPlanError(
            f"context.engine {spec.engine!r} rescales RoPE, but {model_type} uses {kind}; "
            + ("use engine 'none' (or 'auto') to raise its length limit" if alibi else "remove it"),
            "context.engine",
        )
    if spec.options:
        raise ContextPlanError(
            f"context.options: engine 'none' takes no options (model uses {kind})",
            "context.options",
        )
    attr = limit_attr(config)
    native = getattr(config, attr) if attr else KNOWN_NATIVE.get(model_type)
    if native is None:
        if spec.target_length is None:
            raise ContextPlanError(
                f"{model_type}'s config records no context length "
                f"(none of {', '.join(LIMIT_ATTRS)}); set context.target_length",
                "context.target_length",
            )
        native = spec.target_length  # nothing to compare with: the target is taken as given
    target = resolve_target(spec, native) or native
    limit = getattr(config, "max_position_embeddings", None) if attr else None
    plan: dict[str, Any] = {
        "engine": "none",
        "factor": 1.0,
        "scale": target / native,
        "native_length": native,
        "target_length": target,
        "positional": "alibi" if alibi else "absolute",
        "will_train": will_train,
        "max_position_embeddings_before": limit,
        "max_position_embeddings_after": limit,
    }
    if target == native:
        reason = f"{kind}: no extension requested beyond the native context {native}"
        return ContextPlan(**plan, reasons=[reason])
    if not alibi:
        raise ContextPlanError(
            f"context target {target} exceeds {model_type}'s {native} learned position "
            f"embeddings ({attr}={native}); a config change cannot add position rows",
            "context.target_length" if spec.target_length is not None else "context.scale",
        )
    reasons = ["ALiBi biases are computed for any length: nothing to rescale, no RoPE engine"]
    if attr == "max_position_embeddings":
        plan["max_position_embeddings_after"] = target
        reasons.append(f"max_position_embeddings raised from {native} to {target}")
    elif attr is not None:
        plan["config_updates"] = {attr: target}
        reasons.append(f"{attr} raised from {native} to {target}")
    else:
        reasons.append(f"{model_type}'s config records no length limit; nothing to write")
    warning = (
        f"{model_type} was trained on {native} tokens; ALiBi runs at {target} but quality beyond "
        "the training length is not guaranteed"
        + ("; training at the target length helps" if will_train else "; measure passkey first")
    )
    return ContextPlan(**plan, reasons=reasons, warnings=[warning])
