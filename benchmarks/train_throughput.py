"""One training-throughput measurement, run in its own process so peak memory is its own.

Modes, on the same records, LoRA config, seed and number of optimizer steps:
- `scaler-wizard`: packed rows (positions reset per record), loss on label tokens only,
  LM head in chunks (`train.loop.accumulate_gradients`).
- `plain-peft`: the loop most users write — one padded batch of records per step,
  `model(input_ids, attention_mask, labels)` with full logits (labels masked the same way).
Prints one JSON object: real (non-pad) tokens per second, label tokens per second, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["scaler-wizard", "plain-peft"], required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-length", type=int, default=512)
    args = parser.parse_args()

    import torch

    from scaler_wizard.data import prepare_data
    from scaler_wizard.data.packing import pack_examples
    from scaler_wizard.growth import GrowthContext
    from scaler_wizard.growth.lora import LoraOptions, apply_lora
    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.models.tokenizer_prep import load_tokenizer
    from scaler_wizard.recipe.spec import DataSpec, TokenizerSpec

    torch.manual_seed(0)
    path = convert_gguf(locate_embedded_gguf())
    tokenizer, _ = load_tokenizer(path, TokenizerSpec())
    model = load_model(path, load_config(path))
    context = GrowthContext(train_tokens=0, memory_gib=0.0, has_cuda=False)
    model, _ = apply_lora(model, LoraOptions(r=16, dropout=0.0), context)
    model.train()
    spec = DataSpec(train=str(args.data), seq_length=args.seq_length, packing=False)
    data = prepare_data(spec, tokenizer)
    # Unpacked rows carry each record alone; strip their padding to get the records back.
    records = [_trim(row) for row in data.train_rows]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    rows = pack_examples(records, args.seq_length, pad_token_id=tokenizer.pad_token_id)
    n_steps = -(-len(rows) // args.batch_size)
    if args.mode == "scaler-wizard":
        batches: list[Any] = [
            rows[i : i + args.batch_size] for i in range(0, len(rows), args.batch_size)
        ]
        step = _packed_step
    else:
        # The same records per step on average, so both modes see the same real tokens.
        per_step = -(-len(records) // n_steps)
        batches = [records[i : i + per_step] for i in range(0, len(records), per_step)]
        step = _padded_step
    real = labels = 0
    started = time.perf_counter()
    for batch in batches[: args.steps]:
        r, n = step(model, batch, tokenizer.pad_token_id)
        optimizer.step()
        optimizer.zero_grad()
        real, labels = real + r, labels + n
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "mode": args.mode,
                "steps": min(args.steps, len(batches)),
                "seconds": elapsed,
                "real_tokens_per_s": real / elapsed,
                "label_tokens_per_s": labels / elapsed,
                "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            }
        )
    )


def _trim(row: Any) -> Any:
    from scaler_wizard.data.tokenize import TokenizedExample

    n = row.lengths[0]
    return TokenizedExample(row.input_ids[:n], row.labels[:n])


def _packed_step(model: Any, rows: list[Any], pad_id: int) -> tuple[int, int]:
    from scaler_wizard.data import collate_rows
    from scaler_wizard.train.loop import accumulate_gradients

    batch = collate_rows(rows)
    _, labels = accumulate_gradients(model, [batch], 1024, lambda loss: loss.backward())
    return sum(r.real_tokens for r in rows), labels


def _padded_step(model: Any, records: list[Any], pad_id: int) -> tuple[int, int]:
    import torch

    longest = max(len(r.input_ids) for r in records)
    ids = torch.full((len(records), longest), pad_id)
    labels = torch.full((len(records), longest), -100)
    mask = torch.zeros((len(records), longest), dtype=torch.long)
    for i, r in enumerate(records):
        ids[i, : len(r.input_ids)] = torch.tensor(r.input_ids)
        labels[i, : len(r.labels)] = torch.tensor(r.labels)
        mask[i, : len(r.input_ids)] = 1
    model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    return int(mask.sum()), int((labels[:, 1:] != -100).sum())


if __name__ == "__main__":
    main()
