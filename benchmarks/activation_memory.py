"""Where a training step's memory goes: the tensors autograd saves for backward, by module.

One forward of Scaler Wizard's loss (`label_loss_sum`, as `accumulate_gradients` calls it) on one
packed 1024-token row, with a `saved_tensors_hooks` pack hook that charges every saved tensor's
storage (once; parameters excluded) to the module running when it was saved. Prints one JSON
object: bytes per token of the row, by part, for each LoRA dropout / checkpointing setting.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

PARTS = ("lora", "attention", "mlp", "norm", "lm head", "other")


def saved_bytes(model: Any, batch: dict[str, Any], chunk_tokens: int) -> dict[str, int]:
    """Bytes autograd keeps for backward after the forward of one step, by part."""
    import torch

    from scaler_wizard.evaluate.loss import label_loss_sum

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    stack: list[str] = ["other"]
    seen: set[int] = set()
    totals = dict.fromkeys(PARTS, 0)

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params and storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            totals[stack[-1]] += storage.nbytes()
        return tensor

    def leave(*_: Any) -> None:  # a hook's return value would replace the module's output
        stack.pop()

    handles = []
    for name, module in model.named_modules():
        part = _part(name)
        handles.append(module.register_forward_pre_hook(lambda *_, p=part: stack.append(p)))
        handles.append(module.register_forward_hook(leave))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss, _ = label_loss_sum(
            model,
            batch["input_ids"],
            batch["labels"],
            batch["position_ids"],
            chunk_tokens,
            recompute_chunks=True,  # as `accumulate_gradients` calls it
        )
    for handle in handles:
        handle.remove()
    if not loss.requires_grad:
        raise RuntimeError("the loss has no graph: nothing would train")
    return totals


def _part(name: str) -> str:
    for key, part in (
        ("lora_", "lora"),
        ("self_attn", "attention"),
        ("mlp", "mlp"),
        ("norm", "norm"),
        ("lm_head", "lm head"),
    ):
        if key in name:
            return part
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()

    import torch

    from scaler_wizard.data import collate_rows, prepare_data
    from scaler_wizard.growth import GrowthContext
    from scaler_wizard.growth.lora import LoraOptions, apply_lora
    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf
    from scaler_wizard.models.lean_kernels import enable_lean_kernels
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.models.tokenizer_prep import load_tokenizer
    from scaler_wizard.recipe.spec import DataSpec, TokenizerSpec

    torch.manual_seed(0)
    path = convert_gguf(locate_embedded_gguf())
    tokenizer, _ = load_tokenizer(path, TokenizerSpec())
    spec = DataSpec(train=str(args.data), seq_length=1024, packing=True)
    rows = prepare_data(spec, tokenizer).train_rows
    row = random.Random(0).choice(rows)
    batch = collate_rows([row])
    results = []
    for dropout, checkpointing in ((0.0, False), (0.05, False), (0.0, True)):
        model = load_model(path, load_config(path))
        context = GrowthContext(train_tokens=0, memory_gib=0.0, has_cuda=False)
        model, _ = apply_lora(model, LoraOptions(r=16, alpha=32, dropout=dropout), context)
        enable_lean_kernels(model)  # as `train_model` does
        if checkpointing:
            model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
            model.enable_input_require_grads()
        model.train()
        totals = saved_bytes(model, batch, chunk_tokens=1024)
        results.append(
            {
                "dropout": dropout,
                "gradient_checkpointing": checkpointing,
                "bytes_per_token": {k: v / len(row.input_ids) for k, v in totals.items()},
                "total_mib": sum(totals.values()) / 2**20,
            }
        )
    print(json.dumps({"row_tokens": len(row.input_ids), "settings": results}))


if __name__ == "__main__":
    main()
