"""The recipe's `train` section: the training loop, how processes share it, distillation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from scaler_wizard.recipe.spec_base import Spec


class DistillSpec(Spec):
    """Knowledge distillation: train on a mix of the LM loss and a teacher's soft targets.

    loss = (1 - weight) · LM + weight · KD, where KD = T² · KL(teacher/T ‖ student/T) summed over
    label tokens and normalised like the LM loss. The teacher reads the same (packed) batch.
    """

    teacher: str = Field(
        "base",
        description="'base' (the model before growth, with the run's context settings) or a "
        "model source like model.source; it must share the student's vocabulary.",
    )
    weight: float = Field(0.5, ge=0, le=1, description="Share of the KD term in the loss.")
    temperature: float = Field(2.0, gt=0, description="Softmax temperature of both models.")
    top_k: int | None = Field(
        None,
        ge=1,
        description="Only the teacher's top-k tokens per position (renormalised); bounds the "
        "cost of the teacher's targets. Default: the full vocabulary.",
    )


class TrainSpec(Spec):
    """The training loop."""

    steps: int = Field(100, ge=1, description="Optimizer steps.")
    batch_size: int = Field(4, ge=1, description="Rows per micro-batch.")
    grad_accum_steps: int = Field(1, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    warmup_steps: int = Field(10, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    log_every: int = Field(5, ge=1)
    checkpoint_every: int = Field(50, ge=1)
    gradient_checkpointing: bool = False
    loss_chunk_tokens: int = Field(
        1024, ge=16, description="Label tokens per LM-head chunk (bounds logits memory)."
    )
    micro_batch_tokens: int | None = Field(
        None,
        ge=16,
        description="Most tokens per forward pass: each step's rows are re-packed, example by "
        "example, into passes of at most this many tokens (an example longer than that is a "
        "pass of its own; pad tails are dropped). Activation memory then follows this number "
        "instead of batch_size x seq_length, and the gradient is the same. Default: one pass "
        "per micro-batch of batch_size rows.",
    )
    threads: int | None = Field(None, ge=1, description="CPU threads; default: all cores.")
    seed: int = 0
    parallel: Literal["ddp", "fsdp", "fsdp_grad_op", "zero2", "zero3"] = Field(
        "ddp",
        description="How several processes (torchrun, accelerate launch) share training. "
        "ddp: every process holds the whole model; gradients are summed each step. fsdp: "
        "parameters, gradients and optimizer state are sharded across the processes (FSDP2, "
        "ZeRO-3-like: a decoder layer is gathered only while it computes), for a model that "
        "does not fit one device with its gradients and optimizer state; evaluation and export "
        "still run on one process. fsdp_grad_op: the same, but a layer stays gathered from its "
        "forward to its backward (ZeRO-2-like: one gather fewer per layer, more memory). "
        "zero2 / zero3: DeepSpeed ZeRO stage 2 (gradients and optimizer state sharded) or 3 "
        "(parameters too), run by DeepSpeed's engine (the `deepspeed` extra). Same results as "
        "ddp. Ignored with one process (unless `offload` is set); an FSDP `accelerate launch` "
        "selects fsdp, a DeepSpeed one zero2 or zero3 (its zero_stage).",
    )
    offload: Literal["none", "optimizer", "parameters"] = Field(
        "none",
        description="DeepSpeed ZeRO-Offload (with train.parallel: zero2 or zero3): optimizer "
        "keeps the fp32 master weights and Adam state in CPU RAM and steps them there; "
        "parameters (zero3 only) also keeps the weights there between uses. For a model whose "
        "training state does not fit the GPU(s); slower, since every step crosses PCIe. Runs "
        "on one process too.",
    )
    distill: DistillSpec | None = Field(
        None, description="Knowledge distillation from a teacher; off by default."
    )

    @model_validator(mode="after")
    def _offload_needs_zero(self) -> TrainSpec:
        if self.offload != "none" and not self.parallel.startswith("zero"):
            raise ValueError(
                f"train.offload: {self.offload} is DeepSpeed ZeRO-Offload; set "
                "train.parallel: zero3 (or zero2 for offload: optimizer)"
            )
        if self.offload == "parameters" and self.parallel != "zero3":
            raise ValueError(
                "train.offload: parameters needs train.parallel: zero3 (ZeRO-2 keeps every "
                "parameter on every device); use offload: optimizer with zero2"
            )
        return self
