"""AdaLoRA through PEFT: adapters start at `init_r` and training prunes them to an average
`target_r`, giving rank where the gradients say it matters (Zhang et al. 2023).

PEFT's AdaLoRA needs three things a plain adapter does not, and our loop provides each through
`TrainingNeeds`: a rank-allocation call after every optimizer step (it reads the gradients, so
before they are cleared), the orthogonality penalty on P and Q (PEFT adds it only inside its own
forward when labels are passed; our loop computes the loss itself) and, after training, the
ranks each module ended with.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scaler_wizard.growth.base import GrowthContext, GrowthError, GrowthReport
from scaler_wizard.growth.targets import LinearLayer, check_rank, resolve_targets

ADAPTER = "default"


class AdaLoraOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    init_r: int = Field(12, ge=1, le=1024, description="Starting rank of every adapter.")
    target_r: int = Field(4, ge=1, le=1024, description="Average rank left after pruning.")
    tinit: float = Field(
        0.1, ge=0, lt=1, description="Warm-up before pruning, as a fraction of training steps."
    )
    tfinal: float = Field(
        0.2, ge=0, lt=1, description="Final steps at fixed ranks, as a fraction of training steps."
    )
    # PEFT's own name, kept so its documentation applies as written.
    deltaT: int = Field(1, ge=1, description="Steps between two rank allocations.")  # noqa: N815
    beta1: float = Field(0.85, gt=0, lt=1, description="EMA factor of the sensitivity.")
    beta2: float = Field(0.85, gt=0, lt=1, description="EMA factor of the uncertainty.")
    orth_reg_weight: float = Field(0.5, ge=0, description="Weight of the orthogonality penalty.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names to adapt, or 'all-linear'."
    )
    alpha: int | None = Field(None, ge=1, description="Scaling numerator; default 2×init_r.")
    dropout: float = Field(0.05, ge=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> AdaLoraOptions:
        if self.target_r > self.init_r:
            raise ValueError(f"target_r ({self.target_r}) must be ≤ init_r ({self.init_r})")
        if self.tinit + self.tfinal >= 1:
            raise ValueError("tinit + tfinal must leave part of training for pruning (sum < 1)")
        return self


def schedule_steps(options: AdaLoraOptions, total_steps: int) -> tuple[int, int]:
    """(tinit, tfinal) in steps; PEFT needs at least one pruning step between them."""
    if total_steps <= 0:
        raise GrowthError(
            "growth.options", "AdaLoRA needs the planned number of training steps (train.steps)"
        )
    tinit, tfinal = round(options.tinit * total_steps), round(options.tfinal * total_steps)
    if tinit >= total_steps - tfinal:
        raise GrowthError(
            "growth.options.tfinal",
            f"{total_steps} training steps leave no pruning phase after tinit={tinit} and "
            f"before tfinal={tfinal} steps; train longer or lower tinit/tfinal",
        )
    return tinit, tfinal


def validate_adalora(
    model: Any, options: AdaLoraOptions, total_steps: int
) -> tuple[list[LinearLayer], tuple[int, int]]:
    """Targeted layers and the step schedule; reads only names and shapes (meta models work)."""
    layers = resolve_targets(model, options.target_modules)
    check_rank(layers, options.init_r, "growth.options.init_r", field="init_r")
    return layers, schedule_steps(options, total_steps)


def apply_adalora(
    model: Any, options: AdaLoraOptions, context: GrowthContext
) -> tuple[Any, GrowthReport]:
    from peft import AdaLoraConfig, get_peft_model

    from scaler_wizard.models.loader import count_parameters

    layers, (tinit, tfinal) = validate_adalora(model, options, context.total_steps)
    before, _ = count_parameters(model)
    alpha = options.alpha or 2 * options.init_r
    config = AdaLoraConfig(
        init_r=options.init_r,
        target_r=options.target_r,
        tinit=tinit,
        tfinal=tfinal,
        deltaT=options.deltaT,
        beta1=options.beta1,
        beta2=options.beta2,
        orth_reg_weight=options.orth_reg_weight,
        total_step=context.total_steps,
        target_modules=options.target_modules,
        lora_alpha=alpha,
        lora_dropout=options.dropout,
        task_type="CAUSAL_LM",
    )
    grown = get_peft_model(model, config)
    tuner: Any = grown.base_model  # the AdaLoraModel: owns the rank allocator

    # The loop calls hooks after optimizer.step() and before zero_grad(), with the 1-based step:
    # exactly where PEFT's docs place update_and_allocate (it scores weights by weight × grad).
    def allocate(step: int) -> None:
        tuner.update_and_allocate(step)

    context.needs.step_hooks.append(allocate)
    if options.orth_reg_weight > 0:
        weight = options.orth_reg_weight
        context.needs.loss_terms.append(lambda: weight * orthogonal_penalty(tuner.model))
    context.needs.final_reports.append(
        lambda: {"adalora_final_ranks": final_ranks(grown, options.init_r)}
    )
    after, trainable = count_parameters(grown)
    details: dict[str, Any] = {
        "init_r": options.init_r,
        "target_r": options.target_r,
        "alpha": alpha,
        "tinit_steps": tinit,
        "tfinal_steps": tfinal,
        "total_steps": context.total_steps,
        "initial_rank_budget": options.init_r * len(layers),
        "target_modules": sorted(getattr(grown.peft_config[ADAPTER], "target_modules", [])),
    }
    return grown, GrowthReport(
        strategy="adalora",
        parameters_before=before,
        parameters_after=after,
        trainable=trainable,
        details=details,
    )


def orthogonal_penalty(model: Any, adapter: str = ADAPTER) -> Any:
    """Mean ‖PPᵀ − I‖_F over AdaLoRA's P (lora_A) and Q (lora_B) matrices, as in
    `AdaLoraModel.forward` (without its weight), so SVD-style factors stay near-orthogonal."""
    import torch

    total, count = None, 0
    for name, param in model.named_parameters():
        if ("lora_A" in name or "lora_B" in name) and adapter in name:
            cov = param @ param.T if "lora_A" in name else param.T @ param
            eye = torch.eye(*cov.shape, dtype=cov.dtype, device=cov.device)
            term = torch.linalg.matrix_norm(cov - eye, ord="fro")
            total = term if total is None else total + term
            count += 1
    if total is None:
        return torch.zeros(())
    return total / count


def final_ranks(peft_model: Any, init_r: int, adapter: str = ADAPTER) -> dict[str, int]:
    """Module name → rank kept, from PEFT's rank pattern (a keep-mask per module's lora_E).

    Before the first allocation there is no pattern yet and every module keeps `init_r`.
    """
    suffix = f".lora_E.{adapter}"
    modules = [
        name.removesuffix(suffix)
        for name, _ in peft_model.base_model.model.named_parameters()
        if name.endswith(suffix)
    ]
    ranks = dict.fromkeys(modules, init_r)
    pattern = peft_model.peft_config[adapter].rank_pattern or {}
    for key, mask in pattern.items():
        # Keys carry the adapter name during training; PEFT strips it when saving.
        module = key.removesuffix(f".{adapter}").removesuffix(".lora_E")
        ranks[module] = sum(bool(kept) for kept in mask)
    return dict(sorted(ranks.items()))
