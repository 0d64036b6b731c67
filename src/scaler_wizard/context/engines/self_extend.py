"""`self_extend`: Self-Extend (Jin et al. 2024): grouped attention positions, no training.

RoPE is left exactly as it is; the work is done by an attention patch
(`scaler_wizard.context.self_extend`) whose G/w the planner writes into the config as
`self_extend_group_size` / `self_extend_window`. Defaults follow the LongLM README rule
(1/2 ~ 2/3)·L > w + (T − w)/G, taking its conservative end L/2: small models often use less
than their configured window, so the largest position they see should stay well inside it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from scaler_wizard.context.base import EngineOptions, RopeGeometry, RopeUpdate
from scaler_wizard.context.plan import ContextPlanError
from scaler_wizard.context.self_extend import GROUP_ATTR, WINDOW_ATTR

SUMMARY = "Self-Extend at inference: grouped positions beyond a window (an attention patch)."


class SelfExtendOptions(EngineOptions):
    group_size: int | None = Field(
        None, ge=1, description="G: positions farther than the window are divided by G."
    )
    window: int | None = Field(
        None, ge=1, description="w: neighbours closer than this keep exact positions."
    )


def largest_position(target: int, group_size: int, window: int) -> float:
    """w + (T − w)/G: the farthest relative position the model sees at the target length."""
    return window + (target - window) / group_size


def resolve_group_window(
    geometry: RopeGeometry, target: int, options: SelfExtendOptions
) -> tuple[int, int]:
    """(G, w): the options, with any missing one chosen so that w + (T − w)/G < L/2."""
    native = geometry.native_length
    window, group = options.window, options.group_size
    if window is not None and window >= native:
        raise ContextPlanError(
            f"context.options.window {window} must be below the native context {native}: "
            "neighbour positions beyond it were never trained",
            "context.options.window",
        )
    if group is None:
        window = window if window is not None else max(1, native // 4)
        if 2 * window >= native:
            raise ContextPlanError(
                f"context.options.window {window} leaves no room for grouped positions: "
                f"choose it below {native // 2} (half the native context) or set group_size",
                "context.options.window",
            )
        # Smallest integer G with w + (T − w)/G < L/2, in exact integer arithmetic.
        group = 2 * (target - window) // (native - 2 * window) + 1
    elif window is None:
        # Largest w with w·(G − 1) < G·L/2 − T, capped at L/4 (the README's range for Llama-2).
        room = group * native - 2 * target
        if group == 1 or room <= 0:
            minimum = 2 * (target - 1) // (native - 2) + 1 if native > 2 else target
            raise ContextPlanError(
                f"context.options.group_size {group} cannot fit {target} tokens into half the "
                f"native context {native}: use at least {minimum}",
                "context.options.group_size",
            )
        window = max(1, min(native // 4, -(-room // (2 * (group - 1))) - 1))
    reach = (native - window) * group + window
    if reach < target:
        raise ContextPlanError(
            f"context.options.group_size {group} with window {window} reaches only {reach} "
            f"tokens ((L − w)·G + w), below the target {target}; raise group_size",
            "context.options.group_size",
        )
    return group, window


def self_extend_config_updates(
    geometry: RopeGeometry, target: int, options: BaseModel
) -> dict[str, int | None]:
    """The config attributes that make a loader re-apply the patch (`patch_from_config`)."""
    if not isinstance(options, SelfExtendOptions):  # the planner holds options untyped
        raise TypeError(f"expected SelfExtendOptions, got {type(options).__name__}")
    group, window = resolve_group_window(geometry, target, options)
    return {GROUP_ATTR: group, WINDOW_ATTR: window}


def self_extend_engine(
    geometry: RopeGeometry, target_length: int, options: SelfExtendOptions
) -> RopeUpdate:
    rope_type = geometry.rope.get("rope_type", "default")
    if rope_type != "default":
        raise ContextPlanError(
            f"context.engine 'self_extend' keeps RoPE as is and would stack on the model's "
            f"{rope_type!r} scaling; only plain RoPE is supported in this version",
            "context.engine",
        )
    native = geometry.native_length
    group, window = resolve_group_window(geometry, target_length, options)
    farthest = largest_position(target_length, group, window)
    notes = (
        f"self-extend G={group}, w={window}: keys closer than {window} keep exact positions, "
        f"farther ones use positions ⌊j/{group}⌋; RoPE unchanged",
        f"largest position seen at {target_length} tokens: w + (T − w)/G = {farthest:.0f} "
        f"of the native {native} (rule (1/2 ~ 2/3)·L > w + (T − w)/G)",
        "needs the attention patch after loading: "
        "scaler_wizard.context.self_extend.patch_from_config(model)",
    )
    warnings = [
        "self-extend runs eager attention (O(T²) time, two score matrices per 512-query "
        "chunk): slower than SDPA; inference only"
    ]
    if 3 * farthest >= 2 * native:
        warnings.append(
            f"w + (T − w)/G = {farthest:.0f} is not below 2/3 of the native context {native}: "
            "positions near the trained limit; raise group_size or lower window"
        )
    return RopeUpdate(
        rope=dict(geometry.rope),
        max_position_embeddings=target_length,
        factor=float(group),
        notes=notes,
        warnings=tuple(warnings),
        inference_only=True,
    )
