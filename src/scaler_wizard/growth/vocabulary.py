"""Vocabulary growth: new tokens in the tokenizer and new embedding rows, old rows untouched.

New rows start at the mean of the existing rows ("mean") or at the mean of the rows of the
pieces the token's own text tokenizes into today ("text"). Existing rows and the rest of the
network are not modified, so the logits of existing tokens are exactly unchanged; the new
tokens only add logit columns.

Training only the new rows (`trainable: true`) has two mechanisms, chosen by the model:
- An adapter is already on the model (list `vocabulary` after `lora`): PEFT's
  `trainable_token_indices` on that adapter. PEFT keeps a separate delta for just those rows,
  so the old rows cannot move (no weight decay on them, no optimizer state for them), ties
  input and output embeddings, saves the delta with the adapter and folds it in on merge.
  That is the reliable path. PEFT wires it when an adapter is created, so it cannot be set up
  before the adapter exists.
- A plain model: the whole embedding becomes trainable behind a gradient mask that zeroes the
  old rows' gradients, and a step hook restores the old rows after each optimizer step (AdamW's
  decoupled weight decay would otherwise shrink them despite zero gradients). The rest of the
  model is frozen. A later adapter strategy freezes the embedding again, hence the ordering.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scaler_wizard.growth.base import GrowthContext, GrowthError, GrowthReport


class VocabularyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: list[str] = Field(min_length=1, description="Tokens to add (kept as whole tokens).")
    init: Literal["mean", "text"] = Field(
        "mean",
        description="'mean': mean of all existing rows; 'text': mean of the rows of the pieces "
        "the token's text tokenizes into before it is added.",
    )
    trainable: bool = Field(True, description="Train the new rows (and only those rows).")

    @field_validator("tokens")
    @classmethod
    def _distinct_and_non_empty(cls, tokens: list[str]) -> list[str]:
        for i, token in enumerate(tokens):
            if not token.strip():
                raise ValueError(f"tokens[{i}] is empty or whitespace")
        repeated = sorted({t for t in tokens if tokens.count(t) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {repeated}")
        return tokens


def apply_vocabulary(
    model: Any, options: VocabularyOptions, context: GrowthContext
) -> tuple[Any, GrowthReport]:
    from scaler_wizard.models.loader import count_parameters

    tokenizer = context.tokenizer
    if tokenizer is None:
        raise GrowthError(
            "growth.options.tokens", "needs the run's tokenizer (GrowthContext.tokenizer)"
        )
    wrapped = hasattr(model, "peft_config")
    base = model.get_base_model() if wrapped else model
    if wrapped and _is_adapted(base.get_input_embeddings()):
        raise GrowthError(
            "growth.options.tokens",
            "an adapter already wraps the input embedding; list `vocabulary` before it",
        )
    before, _ = count_parameters(model)
    vocab = tokenizer.get_vocab()
    new = [t for t in options.tokens if t not in vocab]
    # "text" reads the pieces now: once added, a token's text tokenizes to the token itself.
    pieces = {t: tokenizer(t, add_special_tokens=False)["input_ids"] for t in new}
    known_rows = len(tokenizer)
    details: dict[str, Any] = {
        "added": new,
        "already_present": [t for t in options.tokens if t in vocab],
        "init": options.init,
    }
    if new:
        tokenizer.add_tokens(new)
        ids = [int(i) for i in tokenizer.convert_tokens_to_ids(new)]
        if max(ids) >= base.get_input_embeddings().weight.shape[0]:
            base.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        _init_rows(base, ids, [pieces[t] for t in new], known_rows, options.init)
        details["token_ids"] = ids
        if options.trainable:
            details["trainable_rows"] = len(ids)
            if wrapped:
                details["mechanism"] = _train_with_adapter(model, ids)
            else:
                details["mechanism"] = _train_with_mask(model, ids, context)
                details["note"] = (
                    "rows train on the plain model; an adapter strategy listed after this one "
                    "freezes them (list `vocabulary` after the adapter to train both)"
                )
    after, trainable = count_parameters(model)
    return model, GrowthReport(
        strategy="vocabulary",
        parameters_before=before,
        parameters_after=after,
        trainable=trainable,
        details=details,
    )


def _is_adapted(module: Any) -> bool:
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    return isinstance(module, BaseTunerLayer | AuxiliaryTrainingWrapper)


def _embedding_weights(base: Any) -> list[Any]:
    """Input embedding, plus the output embedding when it is not the same (tied) tensor."""
    weights = [base.get_input_embeddings().weight]
    output = base.get_output_embeddings()
    if output is not None and output.weight is not weights[0]:
        weights.append(output.weight)
    return weights


def _init_rows(
    base: Any, ids: list[int], pieces: list[list[int]], known_rows: int, init: str
) -> None:
    import torch

    with torch.no_grad():
        for weight in _embedding_weights(base):
            mean = weight[: min(known_rows, weight.shape[0])].mean(dim=0)
            for row, token_pieces in zip(ids, pieces, strict=True):
                use_text = init == "text" and token_pieces
                weight[row] = weight[token_pieces].mean(dim=0) if use_text else mean


def _train_with_adapter(model: Any, ids: list[int]) -> str:
    from peft.tuners.tuners_utils import BaseTuner
    from peft.utils.other import set_additional_trainable_modules

    adapter = model.active_adapter
    config = model.peft_config[adapter]
    if not hasattr(config, "trainable_token_indices"):
        raise GrowthError(
            "growth.options.trainable",
            f"the {config.peft_type} adapter cannot train token rows (LoRA-family only); "
            "set trainable: false or use lora",
        )
    if config.trainable_token_indices is not None:
        raise GrowthError("growth.options.tokens", "token rows are already trainable: one step")
    # The same call PEFT makes when an adapter is created with trainable_token_indices; the
    # indices are stored on the config so the adapter saves and merges them.
    config.trainable_token_indices = ids
    hf_model = model.base_model.model
    set_additional_trainable_modules(
        model=hf_model,
        peft_config=config,
        model_config=BaseTuner.get_model_config(hf_model),
        adapter_name=adapter,
    )
    return "peft_trainable_tokens"


def _train_with_mask(model: Any, ids: list[int], context: GrowthContext) -> str:
    import torch

    for param in model.parameters():
        param.requires_grad = False
    for weight in _embedding_weights(model):
        keep = torch.ones(weight.shape[0], dtype=torch.bool)
        keep[ids] = False
        old_rows = weight.detach()[keep].clone()  # one copy of the old rows: exact restore
        mask = (~keep).to(weight.dtype).unsqueeze(1)
        weight.requires_grad = True
        weight.register_hook(lambda grad, mask=mask: grad * mask.to(grad.device))

        def restore(
            _step: int, weight: Any = weight, keep: Any = keep, old: Any = old_rows
        ) -> None:
            with torch.no_grad():
                weight[keep] = old.to(weight.device)

        context.needs.step_hooks.append(restore)
    return "gradient_mask"
