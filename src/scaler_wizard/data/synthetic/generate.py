"""The model side of self-instruct: which model writes, and one seeded sampling call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaler_wizard.data.errors import DataError

FIELD = "data.synthetic.self_instruct.model"


@dataclass(frozen=True)
class Generator:
    model: Any
    tokenizer: Any
    name: str  # what the cache key and the report call it

    @property
    def max_positions(self) -> int | None:
        value = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        return int(value) if value else None


def generator_name(source: str, tokenizer: Any) -> str:
    """The base model is known by the folder its tokenizer came from (the same with or
    without the model loaded, so a later stage finds the cached generation)."""
    return f"base:{getattr(tokenizer, 'name_or_path', '')}" if source == "base" else source


def load_generator(source: str, base_model: Any, tokenizer: Any) -> Generator | None:
    """'base' → the run's model (None when the caller has none loaded); else load `source`."""
    if source == "base":
        if base_model is None:
            return None
        return Generator(base_model, tokenizer, generator_name(source, tokenizer))
    from scaler_wizard.models.gguf_convert import ModelSourceError
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.models.source import resolve_model_source
    from scaler_wizard.models.tokenizer_prep import load_tokenizer
    from scaler_wizard.recipe.spec import ModelSpec, TokenizerSpec

    try:
        resolved = resolve_model_source(ModelSpec(source=source))
    except ModelSourceError as exc:
        raise DataError(str(exc).removeprefix("model.source: "), field=FIELD) from exc
    own_tokenizer, _ = load_tokenizer(resolved.path, TokenizerSpec())
    model = load_model(resolved.path, load_config(resolved.path)).eval()
    return Generator(model, own_tokenizer, source)


def generate_text(
    generator: Generator,
    prompt_ids: list[int],
    *,
    seed: int,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
) -> tuple[str, bool]:
    """(continuation text, stopped on EOS). Seeded in a forked RNG: the caller's torch random
    state is left as it was, and the same seed always samples the same text."""
    import torch

    model, tokenizer = generator.model, generator.tokenizer
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    device = next(model.parameters()).device
    inputs = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    try:
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), torch.no_grad():
            torch.manual_seed(seed)
            output = model.generate(
                input_ids=inputs,
                attention_mask=torch.ones_like(inputs),
                do_sample=True,
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=max_new_tokens,
                eos_token_id=eos,
                pad_token_id=pad,
            )
    finally:
        model.train(was_training)
    new = [int(t) for t in output[0, inputs.shape[1] :]]
    finished = eos is not None and int(eos) in new
    if finished:
        new = new[: new.index(int(eos))]
    return str(tokenizer.decode(new, skip_special_tokens=True)), finished
