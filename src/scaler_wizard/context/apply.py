"""Write a ContextPlan into a config, before the model is instantiated.

transformers computes the scaled frequencies from the config at construction time, so the
config is the only thing to change; no weights are touched.
"""

from __future__ import annotations

from typing import Any

from scaler_wizard.context.plan import ContextPlan
from scaler_wizard.models import hf_compat


def apply_context_plan(config: Any, plan: ContextPlan) -> None:
    """Set the RoPE dict, `max_position_embeddings` and any other recorded attributes.

    Idempotent; refuses a config whose RoPE is neither the plan's "before" nor its "after"
    (the plan was made for another model).
    """
    if plan.rope_after is not None:
        current = hf_compat.read_rope(config)
        if current not in (plan.rope_before, plan.rope_after):
            raise ValueError(
                f"context plan was made for RoPE {plan.rope_before}, but this config has {current}"
            )
        if current != plan.rope_after:
            # Replace, not merge: keys of a replaced scaling (yarn's beta_fast...) must go.
            hf_compat.write_rope(config, dict(plan.rope_after), replace=True)
    if plan.max_position_embeddings_after is not None:
        config.max_position_embeddings = plan.max_position_embeddings_after
    for name, value in plan.config_updates.items():
        setattr(config, name, value)
