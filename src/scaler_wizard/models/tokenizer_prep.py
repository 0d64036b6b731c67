"""Tokenizer preparation: pad token, chat template, and new tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler_wizard.recipe.spec import TokenizerSpec

# Used when a model ships no chat template: the widely supported ChatML layout.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def load_tokenizer(path: Path, spec: TokenizerSpec) -> tuple[Any, list[str]]:
    """Load and prepare the tokenizer; returns it and the tokens that were actually new."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if spec.chat_template:
        tokenizer.chat_template = spec.chat_template
    elif not getattr(tokenizer, "chat_template", None):
        tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
        tokenizer.chat_template = CHATML_TEMPLATE
    if spec.pad_token:
        tokenizer.add_special_tokens({"pad_token": spec.pad_token})
    elif tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    vocab = tokenizer.get_vocab()
    new_tokens = [t for t in dict.fromkeys(spec.add_tokens) if t not in vocab]
    if new_tokens:
        tokenizer.add_tokens(new_tokens)
    return tokenizer, new_tokens


def fit_embeddings(model: Any, tokenizer: Any) -> int:
    """Resize embeddings to the tokenizer; new rows start at the mean of the old ones.

    The mean keeps the new tokens' logits close to average, so the model's outputs for
    existing text do not move. Returns how many rows were added.
    """
    import torch

    old = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) <= old:
        return 0
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    with torch.no_grad():
        inputs = model.get_input_embeddings().weight
        inputs[old:] = inputs[:old].mean(dim=0, keepdim=True)
        outputs = model.get_output_embeddings()
        if outputs is not None and outputs.weight.data_ptr() != inputs.data_ptr():
            outputs.weight[old:] = outputs.weight[:old].mean(dim=0, keepdim=True)
    return int(len(tokenizer) - old)
