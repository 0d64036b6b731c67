"""Peak memory of a training run, term by term, calibrated against measured peak RSS.

The terms follow what the training loop keeps alive at its peak (the backward pass of the
first micro-batch of a step): the runtime, the weights, the trainable parameters with their
gradients and AdamW states, the activations saved for backward, and one LM-head chunk.
Activation counts are derived from the Llama-family layer (see `_saved_per_token`); one
multiplier, `ACTIVATION_CALIBRATION`, absorbs what the count misses (autograd temporaries,
the allocator's slack), and the `CHECKPOINTED_*` constants say what gradient checkpointing
keeps. Both are fitted to `benchmarks/memory_calibration.py`, which checks every configuration
it measures stays within ±15 % (docs/BENCHMARKS-memory.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

GIB = 2**30
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
# Fitted to docs/BENCHMARKS-memory.md (SmolLM2-135M, float32, CPU, SDPA attention).
RUNTIME_GIB = 0.43  # Python, torch, transformers, PEFT, accelerate once training has started
ACTIVATION_CALIBRATION = 1.34  # measured / counted activation bytes
# Gradient checkpointing, measured (a least-squares fit over four shapes from 1k to 4k tokens):
# the process's peak keeps ~37 % of the per-token activation memory plus a fixed amount,
# modelled as a multiple of the weights. Far above the textbook "layer inputs + one layer":
# recomputation and its backward temporaries keep the allocator's high-water mark up, and peak
# RSS is what the machine has to provide.
CHECKPOINTED_SHARE = 0.37
CHECKPOINTED_FIXED_WEIGHTS = 0.83
LOGITS_COPIES = 3  # logits, their log-softmax and its gradient, for one loss chunk
OPTIMIZER_COPIES = 4  # fp32 parameter, gradient, AdamW exp_avg and exp_avg_sq


class TrainingShape(BaseModel):
    """What decides training memory, besides the model."""

    batch_size: int = Field(ge=1, description="Rows per micro-batch.")
    seq_length: int = Field(ge=1, description="Tokens per row.")
    gradient_checkpointing: bool = False
    lora_rank: int | None = Field(
        8, ge=1, description="LoRA rank on every linear layer; None = every weight trains."
    )
    trainable_params: int | None = Field(
        None, ge=0, description="Exact trainable count when known; overrides lora_rank."
    )
    loss_chunk_tokens: int = Field(1024, ge=1)
    dtype: str = "float32"


class TrainingMemory(BaseModel):
    """Estimated peak memory in GiB, by term."""

    runtime_gib: float
    weights_gib: float
    trainable_gib: float
    activations_gib: float
    logits_gib: float
    total_gib: float
    trainable_params: int

    def explain(self) -> str:
        return (
            f"{self.total_gib:.1f} GiB = weights {self.weights_gib:.2f} + trainable state "
            f"{self.trainable_gib:.2f} + activations {self.activations_gib:.2f} + LM-head "
            f"chunk {self.logits_gib:.2f} + runtime {self.runtime_gib:.2f}"
        )


def estimate_training_memory(config: Any, shape: TrainingShape) -> TrainingMemory:
    """Peak memory of `train_model` for a Llama-family `config` trained with `shape`."""
    dims = _Dims.of(config)
    width = DTYPE_BYTES.get(shape.dtype, 4)
    trainable = (
        shape.trainable_params
        if shape.trainable_params is not None
        else dims.lora_params(shape.lora_rank)
        if shape.lora_rank is not None
        else dims.parameters()
    )
    tokens = shape.batch_size * shape.seq_length
    per_layer = _saved_per_token(dims, lora=shape.lora_rank is not None) * tokens * width
    activations = dims.layers * per_layer * ACTIVATION_CALIBRATION
    weights = dims.parameters() * width
    if shape.gradient_checkpointing:
        activations = activations * CHECKPOINTED_SHARE + weights * CHECKPOINTED_FIXED_WEIGHTS
    logits = min(shape.loss_chunk_tokens, tokens) * dims.vocab * 4 * LOGITS_COPIES  # fp32 loss
    state = trainable * 4 * OPTIMIZER_COPIES  # trainable weights stay fp32
    terms = {
        "weights_gib": weights / GIB,
        "trainable_gib": state / GIB,
        "activations_gib": activations / GIB,
        "logits_gib": logits / GIB,
        "runtime_gib": RUNTIME_GIB,
    }
    return TrainingMemory(**terms, total_gib=sum(terms.values()), trainable_params=trainable)


class _Dims(BaseModel):
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool

    @classmethod
    def of(cls, config: Any) -> _Dims:
        hidden = int(config.hidden_size)
        heads = int(config.num_attention_heads)
        return cls(
            hidden=hidden,
            layers=int(config.num_hidden_layers),
            heads=heads,
            kv_heads=int(getattr(config, "num_key_value_heads", None) or heads),
            head_dim=int(getattr(config, "head_dim", None) or hidden // heads),
            intermediate=int(getattr(config, "intermediate_size", None) or 4 * hidden),
            vocab=int(config.vocab_size),
            tied=bool(getattr(config, "tie_word_embeddings", False)),
        )

    @property
    def q_width(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of every linear layer in one decoder layer."""
        h, i = self.hidden, self.intermediate
        q, kv = self.q_width, self.kv_width
        return [(h, q), (h, kv), (h, kv), (q, h), (h, i), (h, i), (i, h)]

    def parameters(self) -> int:
        per_layer = sum(a * b for a, b in self.linear_shapes()) + 2 * self.hidden
        embeddings = self.vocab * self.hidden * (1 if self.tied else 2)
        return self.layers * per_layer + embeddings + self.hidden

    def lora_params(self, rank: int) -> int:
        return self.layers * rank * sum(a + b for a, b in self.linear_shapes())


def _saved_per_token(dims: _Dims, *, lora: bool) -> float:
    """Elements one decoder layer saves for backward per token (Llama-family, SDPA).

    Attention: norm in/out, q/k/v, their rotated copies, k/v repeated to every query head,
    the attention output, o_proj output and the residual. MLP: norm output, gate, up, the
    activation, the product, down output and the residual. LoRA (with dropout) keeps a
    dropped-out copy of each adapted layer's input plus its boolean mask (¼ of an fp32).
    """
    h, i, q, kv = dims.hidden, dims.intermediate, dims.q_width, dims.kv_width
    attention = 2 * h + (q + 2 * kv) + (q + kv) + 2 * q + q + 2 * h
    mlp = h + 4 * i + 2 * h
    adapter = 1.25 * sum(a for a, _ in dims.linear_shapes()) if lora else 0.0
    return attention + mlp + adapter
