"""The `data:` section of a recipe: sources, mixing, formats, transforms, synthetic data."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from scaler_wizard.recipe.spec_base import Spec


class DataTransformSpec(Spec):
    """One data transform applied in order; `options` is checked against the transform's model."""

    name: str = Field(description="Registered data transform, e.g. 'dedup_near'.")
    options: dict[str, Any] = Field(default_factory=dict, description="Transform options.")


DataFormat = Literal["auto", "messages", "sharegpt", "alpaca", "completion", "text"]


def _hub_name(key: str, value: Any) -> Any:
    """`{hub, split, config}` spelled as the one-string `hf:owner/name:split[:config]` form."""
    if not (isinstance(value, dict) and "hub" in value):
        return value
    extra = set(value) - {"hub", "split", "config"}
    if extra:
        raise ValueError(f"{key}: unknown keys {sorted(extra)}; use hub, split, config")
    name = f"hf:{value['hub']}:{value.get('split') or 'train'}"
    return f"{name}:{value['config']}" if value.get("config") else name


class DataSourceSpec(Spec):
    """One source of a weighted train mix."""

    path: str = Field(
        description="Same kinds as data.train: a file, a folder of .txt/.md files, or "
        "'hf:owner/name[:split[:config]]' (also written {hub, split, config})."
    )
    weight: float = Field(
        1.0, gt=0, description="Relative share of this source in the train mix (normalised)."
    )
    name: str | None = Field(None, description="Name in the data report; default: the path.")
    format: DataFormat | None = Field(
        None, description="This source's format; default: data.format."
    )

    @model_validator(mode="before")
    @classmethod
    def _hub_mapping(cls, data: Any) -> Any:
        if isinstance(data, dict) and "path" in data:
            data = {**data, "path": _hub_name("path", data["path"])}
        return data

    @property
    def label(self) -> str:
        return self.name or self.path


class MixSpec(Spec):
    """How `data.sources` are mixed into the train split."""

    records: int | None = Field(
        None,
        ge=1,
        description="Train examples in the mix; default: the most the weights allow without "
        "repeating a record (the scarcest source, relative to its weight, is used whole).",
    )
    replacement: bool = Field(
        False,
        description="Allow a source to repeat when `records` asks for more than it holds: "
        "whole passes over it, then a seeded sample of the rest. Without, asking for more is "
        "an error.",
    )


class SelfInstructSpec(Spec):
    """Self-instruct: a local model writes new instruction/response pairs from seed examples."""

    count: int = Field(ge=1, description="Pairs to generate (before the recipe's transforms).")
    seeds: str | None = Field(
        None, description="Seed examples (same kinds as data.train); default: the train data."
    )
    model: str = Field(
        "base",
        description="'base': the run's base model; or a model source ('embedded', a folder, a "
        "hub id) loaded with its own tokenizer.",
    )
    seeds_per_prompt: int = Field(3, ge=1, le=16, description="Seed examples shown per prompt.")
    max_new_tokens: int = Field(256, ge=8, description="Tokens generated per attempt.")
    temperature: float = Field(0.8, gt=0, le=2, description="Sampling temperature.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass.")
    max_attempts: int | None = Field(
        None, ge=1, description="Generations tried at most; default: 4 × count."
    )


class LongContextSpec(Spec):
    """Long-context samples built from real long documents, sized with the tokenizer."""

    documents: list[str] = Field(
        min_length=1, description="Text files (.txt/.md) or folders of them, read whole."
    )
    lengths: list[int] | None = Field(
        None,
        description="Sample lengths in tokens (chat template included); default: the rows' "
        "seq_length, so each context stage gets samples of its own length. Lengths above the "
        "rows' seq_length are left out (they would be truncated).",
    )
    samples_per_length: int = Field(8, ge=1, description="Samples built at each length.")
    kinds: list[Literal["retrieval", "multi_doc"]] = Field(
        ["retrieval", "multi_doc"],
        min_length=1,
        description="retrieval: a key/value fact planted at a depth of one document, asked "
        "for at the end; multi_doc: several documents, a question about one of them. Samples "
        "take the kinds in turn.",
    )
    depths: list[float] = Field(
        [0.1, 0.3, 0.5, 0.7, 0.9],
        min_length=1,
        description="Where facts are planted, as fractions of the filler (0 = start, 1 = end).",
    )
    documents_per_sample: int = Field(3, ge=2, description="Documents per multi_doc sample.")

    @model_validator(mode="after")
    def _valid_depths(self) -> LongContextSpec:
        if any(not 0 <= d <= 1 for d in self.depths):
            raise ValueError("depths are fractions between 0 and 1")
        if self.lengths is not None and any(n < 16 for n in self.lengths):
            raise ValueError("lengths must be at least 16 tokens")
        return self


class SyntheticSpec(Spec):
    """Synthetic train examples: generated by a model, or built from long documents.

    They join the train split only (the held-out split stays real data); self-instruct pairs
    go through `data.transforms` with the real records (so dedup removes copies of seeds),
    long-context samples are added after them (length filters would drop them).
    """

    self_instruct: SelfInstructSpec | None = Field(None, description="Model-written pairs.")
    long_context: LongContextSpec | None = Field(None, description="Long-document samples.")
    seed: int | None = Field(None, description="Seed for sampling; default: data.seed.")


class StreamingSpec(Spec):
    """Data larger than memory: read in shards, packed rows kept on disk (memory-mapped).

    Each shard goes through conversion, transforms, tokenizing and packing on its own;
    dedup remembers every earlier shard, labeling functions fit their label model on the
    first shard. The held-out split comes from the first shard of each source (or from
    `data.eval`). Several sources are mixed by packed rows. The rows are cached by the data
    fingerprint under the workspace's data-cache/, so unchanged data is processed once.
    """

    shard_records: int = Field(
        10_000, ge=100, description="Records read, transformed and packed together."
    )
    cache_dir: str | None = Field(
        None, description="Where packed rows are kept; default: <workspace>/data-cache."
    )


class DataSpec(Spec):
    """Training data: its source, format, transforms, the held-out split and packing."""

    train: str | None = Field(
        None,
        description="A .jsonl/.json/.csv/.tsv/.parquet/.txt/.md file, a folder of .txt/.md "
        "files, or a Hugging Face dataset 'hf:owner/name[:split[:config]]' (also written "
        "{hub: owner/name, split: train, config: ...}). Give this or `sources`.",
    )
    sources: list[DataSourceSpec] = Field(
        default_factory=list,
        description="Several train sources mixed by weight (instead of `train`).",
    )
    mix: MixSpec = Field(default_factory=MixSpec, description="How `sources` are mixed.")
    eval: str | None = Field(
        None, description="Held-out source; default: a seeded split of the train data."
    )
    format: DataFormat = Field(
        "auto",
        description="Record format: detected per source, or messages, sharegpt, alpaca, "
        "completion ({prompt, completion}) or text.",
    )
    synthetic: SyntheticSpec | None = Field(None, description="Synthetic train examples.")
    split_turns: bool = Field(
        False,
        description="Multi-turn conversations: one example per assistant turn (earlier turns "
        "as context) instead of one example per conversation.",
    )
    transforms: list[DataTransformSpec] = Field(
        default_factory=list, description="Filters and dedup steps, applied in order."
    )
    on_error: Literal["fail", "skip"] = Field(
        "fail", description="Malformed records: stop at the first, or skip and report them."
    )
    eval_records: int = Field(48, ge=1, description="Records held out for evaluation.")
    max_records: int | None = Field(
        None, ge=1, description="Use at most this many records of each source."
    )
    seq_length: int = Field(512, ge=16, description="Tokens per packed training row.")
    packing: bool = Field(True, description="Pack records into rows (positions reset per record).")
    seed: int = Field(0, description="Seed of the split, the mix, synthetic data and row order.")
    streaming: StreamingSpec | None = Field(
        None,
        description="Stream sources larger than memory (`true` or {shard_records: N}); "
        "off: everything is read and packed in memory.",
    )

    @field_validator("streaming", mode="before")
    @classmethod
    def _streaming_switch(cls, value: Any) -> Any:
        """`streaming: true` means the default settings, `false` means off."""
        if value is True:
            return {}
        return None if value is False else value

    @model_validator(mode="before")
    @classmethod
    def _hub_mapping(cls, data: Any) -> Any:
        """`{hub, split, config}` for train/eval is spelled as the one-string `hf:` form."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in ("train", "eval"):
            if key in data:
                data[key] = _hub_name(key, data[key])
        return data

    @model_validator(mode="after")
    def _one_kind_of_train(self) -> DataSpec:
        if (self.train is None) == (not self.sources):
            raise ValueError("give either data.train (one source) or data.sources (a mix)")
        return self

    def train_sources(self) -> list[DataSourceSpec]:
        """The train data as a list of sources: `train` is a mix of one."""
        return self.sources or [DataSourceSpec(path=self.train or "")]
