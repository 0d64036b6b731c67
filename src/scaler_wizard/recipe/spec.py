"""Pydantic models of a recipe. `extra="forbid"` everywhere: a typo is an error, never ignored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from scaler_wizard.recipe.alerts import AlertsSpec
from scaler_wizard.recipe.data_spec import (
    DataFormat as DataFormat,
)
from scaler_wizard.recipe.data_spec import (
    DataSourceSpec as DataSourceSpec,
)
from scaler_wizard.recipe.data_spec import (
    DataSpec as DataSpec,
)
from scaler_wizard.recipe.data_spec import (  # re-exported: the data section lives there
    DataTransformSpec as DataTransformSpec,
)
from scaler_wizard.recipe.data_spec import (
    LongContextSpec as LongContextSpec,
)
from scaler_wizard.recipe.data_spec import (
    MixSpec as MixSpec,
)
from scaler_wizard.recipe.data_spec import (
    SelfInstructSpec as SelfInstructSpec,
)
from scaler_wizard.recipe.data_spec import (
    SyntheticSpec as SyntheticSpec,
)
from scaler_wizard.recipe.spec_base import Spec as Spec
from scaler_wizard.recipe.telemetry_spec import (  # re-exported: the telemetry section
    BUILT_IN_SINKS as BUILT_IN_SINKS,
)
from scaler_wizard.recipe.telemetry_spec import (
    HttpSinkSpec as HttpSinkSpec,
)
from scaler_wizard.recipe.telemetry_spec import (
    MlflowSinkSpec as MlflowSinkSpec,
)
from scaler_wizard.recipe.telemetry_spec import (
    PluginSinkSpec as PluginSinkSpec,
)
from scaler_wizard.recipe.telemetry_spec import (
    SinkSpec as SinkSpec,
)
from scaler_wizard.recipe.telemetry_spec import (
    TelemetrySpec as TelemetrySpec,
)
from scaler_wizard.recipe.telemetry_spec import (
    TensorBoardSinkSpec as TensorBoardSinkSpec,
)
from scaler_wizard.recipe.telemetry_spec import (
    WandbSinkSpec as WandbSinkSpec,
)
from scaler_wizard.recipe.train_spec import (  # re-exported: the training section
    DistillSpec as DistillSpec,
)
from scaler_wizard.recipe.train_spec import (
    TrainSpec as TrainSpec,
)

SCHEMA_VERSION = 1


class TokenizerSpec(Spec):
    """How the tokenizer is prepared before training."""

    pad_token: str | None = Field(
        None, description="Pad token; default: the tokenizer's own, else its EOS token."
    )
    chat_template: str | None = Field(
        None,
        description="Jinja chat template; default: the model's own, else the ChatML fallback.",
    )
    add_tokens: list[str] = Field(
        default_factory=list,
        description="New tokens; their embeddings start at the mean of the existing ones.",
    )


class ModelSpec(Spec):
    """Which model to grow."""

    source: str = Field(
        "embedded",
        description="'embedded' (SmolLM2-135M-Instruct shipped in a wheel), a hub id, "
        "a local folder, or a .gguf file.",
    )
    gguf_file: str | None = Field(None, description="GGUF file name inside a hub repo or folder.")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Weights dtype: 'auto' is bfloat16 on a CUDA GPU that has it, else float32.",
    )
    attn_implementation: Literal[
        "auto", "sdpa", "eager", "flash_attention_2", "flash_attention_3"
    ] = Field(
        "auto",
        description="Attention kernel: 'auto' is FlashAttention on CUDA when installed (and the "
        "dtype is 16-bit), else PyTorch SDPA.",
    )
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)


class GrowthStepSpec(Spec):
    """One growth strategy applied in order; `options` is checked against the strategy's model."""

    strategy: str = Field(description="Registered growth strategy, e.g. 'lora'.")
    options: dict[str, Any] = Field(default_factory=dict, description="Strategy options.")


class ContextStageSpec(Spec):
    """One phase of progressive context growth: train at this length, then evaluate."""

    target_length: int | None = Field(None, gt=0, description="Stage context in tokens.")
    scale: float | None = Field(None, gt=0, description="Stage context as a multiple of native.")
    steps: int = Field(ge=1, description="Optimizer steps in this stage.")
    seq_length: int | None = Field(
        None, ge=16, description="Tokens per training row; default: data.seq_length."
    )
    learning_rate: float | None = Field(None, gt=0, description="Default: train.learning_rate.")

    @model_validator(mode="after")
    def _one_target(self) -> ContextStageSpec:
        if (self.target_length is None) == (self.scale is None):
            raise ValueError("give exactly one of target_length or scale for each stage")
        return self


class ContextSpec(Spec):
    """Target context window; the planner picks engine and factor unless they are given.

    With `stages`, the window grows stage by stage (e.g. native → 2× → 4×): each stage plans
    its own factor relative to the native context, trains from the previous stage's merged
    weights, saves its model, and is evaluated before the next begins.
    """

    engine: str = Field(
        "auto", description="Context engine ('auto', 'none', 'yarn', 'linear', ...)."
    )
    target_length: int | None = Field(None, gt=0, description="Target context in tokens.")
    scale: float | None = Field(
        None, gt=0, description="Target as a multiple of the model's native context."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Engine options (e.g. yarn beta_fast)."
    )

    stages: list[ContextStageSpec] = Field(
        default_factory=list, description="Progressive stages; replace target_length/scale."
    )

    @model_validator(mode="after")
    def _one_target(self) -> ContextSpec:
        if self.target_length is not None and self.scale is not None:
            raise ValueError("give either target_length or scale, not both")
        if self.stages and (self.target_length is not None or self.scale is not None):
            raise ValueError("with stages, each stage names its target; drop target_length/scale")
        return self


class PasskeySpec(Spec):
    """Passkey retrieval (Mohtashami & Jaggi prompt) at the target context."""

    lengths: list[int] | None = Field(
        None, description="Prompt lengths in tokens; default: the target context."
    )
    trials: int = Field(1, ge=1, description="Trials per length (depths spread evenly).")
    baseline: bool = Field(True, description="Also test the base model, for comparison.")


class LongPplSpec(Spec):
    """Perplexity of long plain-text documents per position bucket (one pass per document)."""

    documents: list[str] = Field(min_length=1, description="Plain-text files, read whole.")
    max_length: int | None = Field(
        None, ge=2, description="Tokens scored per document; default: the target context."
    )
    bucket_size: int = Field(1024, ge=1, description="Positions per reported length bucket.")
    stride: int | None = Field(
        None, ge=1, description="Sliding-window stride; default: one pass per document."
    )
    baseline: bool = Field(True, description="Also measure the base model, for comparison.")


class NeedleSpec(Spec):
    """Needle in a haystack: exact-match retrieval of a number over lengths x depths."""

    lengths: list[int] | None = Field(
        None, description="Prompt lengths in tokens; default: the target context."
    )
    depths: list[float] = Field(
        default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0],
        description="Needle depths as fractions of the haystack (0 = start, 1 = end).",
    )
    trials: int = Field(1, ge=1, description="Random numbers per cell.")
    documents: list[str] | None = Field(
        None, description="Haystack files; default: long_ppl's documents, else the passkey text."
    )
    baseline: bool = Field(True, description="Also test the base model, for comparison.")

    @model_validator(mode="after")
    def _depths_in_unit_interval(self) -> NeedleSpec:
        if not self.depths or any(not 0.0 <= depth <= 1.0 for depth in self.depths):
            raise ValueError(f"needle depths must be within [0, 1], got {self.depths}")
        return self


class ContextCostSpec(Spec):
    """What a longer context costs: one forward pass per length, its time and peak memory."""

    lengths: list[int] | None = Field(
        None,
        description="Prompt lengths in tokens, measured in increasing order; default: powers "
        "of two from 1024 up to the target context, and the target.",
    )
    baseline: bool = Field(False, description="Also measure the base model.")


# Short, varied requests a small chat model can answer in a few sentences.
DEFAULT_COMPARISON_PROMPTS = (
    "Explain what a Python list comprehension is, with a short example.",
    "Give three tips for writing a clear commit message.",
    "What is the difference between a process and a thread?",
    "Summarize in two sentences why the sky looks blue.",
    "Write a haiku about autumn rain.",
    "How do I reverse a string in Python?",
)


class MultiTurnSpec(Spec):
    """Chat quality: held-out loss per assistant turn, chat-template adherence of generated
    replies, and base vs grown answers to fixed prompts, judged pairwise."""

    conversations: str | None = Field(
        None,
        description="JSONL file of held-out conversations (OpenAI messages, ShareGPT or "
        "Alpaca records); default: the conversations of the run's held-out split.",
    )
    max_conversations: int = Field(
        16, ge=1, description="Conversations scored at most (each assistant turn is one reply)."
    )
    max_new_tokens: int = Field(
        64,
        ge=1,
        description="Token budget of each generated reply; a reply must end its turn within it.",
    )
    prompts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_COMPARISON_PROMPTS),
        description="Fixed prompts both models answer, saved side by side; empty: no comparison.",
    )
    judge: str | None = Field(
        "base",
        description="Model that judges each pair from its log-probabilities of 'A' vs 'B', "
        "both orders: 'base' (the model before growth), a model folder, or null (side by "
        "side only, no verdict).",
    )
    baseline: bool = Field(
        True, description="Also score the base model's turns and template adherence."
    )


class EvaluateSpec(Spec):
    """What is measured before and after growth."""

    held_out: bool = Field(True, description="Held-out loss and perplexity, base vs grown.")
    passkey: PasskeySpec | None = Field(default_factory=PasskeySpec)
    long_ppl: LongPplSpec | None = Field(
        None, description="Long-document perplexity per length bucket; off by default."
    )
    needle: NeedleSpec | None = Field(
        None, description="Needle-in-a-haystack grid (heatmap); off by default."
    )
    context_cost: ContextCostSpec | None = Field(
        None, description="Latency and peak memory per context length; off by default."
    )
    multi_turn: MultiTurnSpec | None = Field(
        None,
        description="Per-turn held-out loss, chat-template adherence and a judged base vs "
        "grown comparison; off by default.",
    )


class ContractSpec(Spec):
    """Checks on the result; a failed contract fails the run before export."""

    max_eval_loss_increase: float | None = Field(
        0.0, description="Grown held-out loss may exceed the base's by at most this (nats)."
    )
    min_passkey_accuracy: float | None = Field(
        None, ge=0, le=1, description="Minimum passkey accuracy of the grown model."
    )


GatePoint = Literal["stage", "export", "breaker"]


class GateSpec(Spec):
    """Human approval: the run waits at the named points until someone approves or denies."""

    approve_before: list[GatePoint] = Field(
        default_factory=list,
        description="'stage' (before each progressive context stage after the first), "
        "'export' (after the contracts, before anything is exported), 'breaker' (when the "
        "circuit breaker pauses training: approve continues from its checkpoint, deny ends "
        "the run).",
    )
    timeout_s: float = Field(
        3600.0, gt=0, description="Seconds to wait; no decision by then counts as a denial."
    )


class GgufSpec(Spec):
    """A GGUF for llama.cpp / Ollama, written from the merged model into `gguf/`."""

    enabled: bool = Field(False, description="Write gguf/model.gguf after the merged model.")
    dtype: Literal["f16", "f32", "bf16"] = Field(
        "f16", description="Element type of the weight matrices (norms always stay f32)."
    )
    ollama_modelfile: bool = Field(
        True, description="Also write gguf/Modelfile for `ollama create`."
    )


class ExportSpec(Spec):
    """What the artifact holds."""

    adapter: bool = Field(True, description="Save the adapter (PEFT format).")
    merged: bool = Field(True, description="Save the merged model + tokenizer (safetensors).")
    plots: bool = True
    gguf: GgufSpec = Field(default_factory=GgufSpec)

    @model_validator(mode="after")
    def _gguf_needs_merged(self) -> ExportSpec:
        if self.gguf.enabled and not self.merged:
            raise ValueError("export.gguf.enabled needs export.merged: GGUF is written from it")
        return self


SafetyAction = Literal["warn", "pause", "abort", "rollback"]
SafetyPreset = Literal["strict", "standard", "expert"]


class SafetySpec(Spec):
    """Circuit breaker: watch the run and warn, pause, roll back or stop when it goes wrong.

    `preset` sets every threshold and action (see `scaler_wizard.safety.presets`); any other
    field given here overrides the preset's value. Windows count logged values (one per
    `train.log_every` steps); warm-up and probation count optimizer steps.
    """

    preset: SafetyPreset = Field(
        "standard",
        description="'strict' (trips early, for beginners), 'standard', or 'expert' "
        "(fewer interventions, mostly warnings).",
    )
    on_nan: SafetyAction | None = Field(
        None, description="Action when the loss, grad norm or perplexity is NaN or infinite."
    )
    loss_spike_z: float | None = Field(
        None, gt=0, description="A logged loss this many robust σ above the window is a spike."
    )
    window: int | None = Field(
        None, ge=8, description="Logged losses the spike test compares against (at least 8)."
    )
    warmup_steps: int | None = Field(
        None, ge=0, description="Steps at the start during which spikes never trip (NaN does)."
    )
    consecutive_spikes: int | None = Field(
        None, ge=1, description="Spikes in a row (logged values) before the breaker trips."
    )
    on_loss_spike: SafetyAction | None = Field(None, description="Action for a loss spike.")
    perplexity_slope: float | None = Field(
        None,
        ge=0,
        description="Trip when log-perplexity rises faster than this per evaluation "
        "(0.02 ≈ perplexity up 2% per evaluation).",
    )
    perplexity_evals: int | None = Field(
        None, ge=2, description="Evaluations the perplexity slope is fitted over."
    )
    on_perplexity_rise: SafetyAction | None = Field(
        None, description="Action when evaluation perplexity keeps rising."
    )
    probe_drop: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Trip when probe accuracy (e.g. passkey) falls more than this below its best.",
    )
    on_probe_drop: SafetyAction | None = Field(None, description="Action for a probe drop.")
    probation_steps: int | None = Field(
        None, ge=0, description="Steps watched on probation after resuming from a trip."
    )
    on_probation_trip: Literal["pause", "abort"] | None = Field(
        None, description="Action replacing any trip that happens during probation."
    )


class Recipe(Spec):
    """A complete, versioned description of one growth run."""

    schema_version: Literal[1] = Field(description="Recipe schema version.")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    model: ModelSpec = Field(default_factory=ModelSpec)
    growth: list[GrowthStepSpec] = Field(default_factory=lambda: [GrowthStepSpec(strategy="lora")])
    context: ContextSpec = Field(default_factory=ContextSpec)
    data: DataSpec
    train: TrainSpec = Field(default_factory=TrainSpec)
    evaluate: EvaluateSpec = Field(default_factory=EvaluateSpec)
    contracts: ContractSpec = Field(default_factory=ContractSpec)
    gates: GateSpec = Field(default_factory=GateSpec)
    export: ExportSpec = Field(default_factory=ExportSpec)
    safety: SafetySpec = Field(default_factory=SafetySpec)
    telemetry: TelemetrySpec = Field(default_factory=TelemetrySpec)
    alerts: AlertsSpec = Field(default_factory=AlertsSpec)

    @model_validator(mode="after")
    def _distill_without_stages(self) -> Recipe:
        # Each stage reloads and regrows its model; a per-stage teacher is not designed yet.
        if self.train.distill is not None and self.context.stages:
            raise ValueError("train.distill cannot be combined with context.stages yet")
        return self
