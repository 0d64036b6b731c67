"""Generation that honours every adapter kind, including prefix tuning."""

from __future__ import annotations

from typing import Any

from scaler_wizard.evaluate.loss import cache_argument, prefix_config


def generate_with_prefix(model: Any, input_ids: Any, attention_mask: Any, **kwargs: Any) -> Any:
    """`model.generate`, except that a prefix-tuned model really generates from its prefix.

    PEFT 0.21's generate hands the prefix over as `past_key_values`, which transformers 5
    drops in favour of its own empty `cache`: the output would be the base model's. Instead
    the base model continues from the prefix as a ready cache: `num_virtual_tokens`
    placeholder ids stand for the cached positions (never embedded), so real tokens sit at
    positions P, P+1, ... exactly as in PEFT's forward. Returns prompt + new tokens, like
    `generate`. Models without a prefix go straight to `model.generate`.
    """
    import torch

    config = prefix_config(model)
    if config is None:
        return model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
    if config.peft_type != "PREFIX_TUNING":  # PeftType is a str enum
        raise ValueError(f"generation supports prefix tuning, not {config.peft_type}")
    batch, virtual = input_ids.shape[0], int(config.num_virtual_tokens)
    base = model.get_base_model()
    output = base.generate(
        input_ids=torch.cat((input_ids.new_zeros((batch, virtual)), input_ids), dim=1),
        attention_mask=torch.cat((attention_mask.new_ones((batch, virtual)), attention_mask), 1),
        **{cache_argument(base): model.get_prompt(batch)},
        **kwargs,
    )
    if hasattr(output, "sequences"):  # return_dict_in_generate
        output.sequences = output.sequences[:, virtual:]
        return output
    return output[:, virtual:]
