"""One training-throughput measurement, run in its own process so peak memory is its own.

Modes, on the same tokenized records (`sft_stdlib.jsonl`, assistant-only labels, truncated to
1024 tokens), the same LoRA (r16, alpha 32, all linear layers, dropout 0.0), seed and number of
optimizer steps, float32 on CPU:
- `scaler-wizard`: packed 1024-token rows (positions reset per record), loss on label tokens
  only, LM head in chunks (`train.loop.accumulate_gradients`), `--rows-per-step` rows a step.
- `plain-peft`: the loop most users write — `--batch-size` records padded to the longest,
  `model(input_ids, attention_mask, labels)` with full logits.
- `trl-padded`, `trl-packed`, `trl-padding-free`: TRL's SFTTrainer (see `trl_baseline.py`).
Prints one JSON object: steps, seconds, real (non-pad) tokens/s, label tokens/s, peak RSS.
Only the optimizer steps are timed; loading the model and preparing data are not.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

from trl_baseline import MODES as TRL_MODES
from trl_baseline import cpu_seconds, run_trl

SEQ_LENGTH = 1024
LORA_R, LORA_ALPHA = 16, 32


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--mode", choices=["scaler-wizard", "plain-peft", *TRL_MODES], required=True
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=8, help="timed optimizer steps")
    parser.add_argument(
        "--warmup-steps", type=int, default=1, help="untimed optimizer steps before them"
    )
    parser.add_argument("--batch-size", type=int, default=4, help="records per step (not ours)")
    parser.add_argument("--rows-per-step", type=int, default=1, help="packed rows (ours)")
    parser.add_argument("--loss-chunk-tokens", type=int, default=1024)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument(
        "--micro-batch-tokens", type=int, help="train.micro_batch_tokens (ours; default off)"
    )
    parser.add_argument("--bf16", action="store_true", help="TRL's bf16 autocast (TRL modes)")
    parser.add_argument(
        "--gated",
        action="store_true",
        help="before each timed step, print 'gate' and wait for a line on stdin (run.py's "
        "lockstep: several modes take turns, one step at a time)",
    )
    args = parser.parse_args()

    import torch

    from scaler_wizard.data import prepare_data
    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf
    from scaler_wizard.models.loader import count_parameters, load_config, load_model
    from scaler_wizard.models.tokenizer_prep import load_tokenizer
    from scaler_wizard.recipe.spec import DataSpec, TokenizerSpec

    torch.manual_seed(0)
    path = convert_gguf(locate_embedded_gguf())
    tokenizer, _ = load_tokenizer(path, TokenizerSpec())
    model = load_model(path, load_config(path))
    if args.mode != "scaler-wizard":
        # Plain transformers SDPA, as these users run it: TRL passes varlen bounds
        # (cu_seq_lens_q) that Scaler Wizard's packed SDPA would act on.
        model.set_attn_implementation("sdpa")
    base_params, _ = count_parameters(model)
    spec = DataSpec(train=str(args.data), seq_length=SEQ_LENGTH, packing=False)
    # Unpacked rows carry each record alone; strip their padding to get the records back.
    records = [_trim(row) for row in prepare_data(spec, tokenizer).train_rows]
    extra: dict[str, Any] = {}
    setup_rss_gib = _peak_rss_gib()  # model, tokenizer and records, before any training
    if args.mode in TRL_MODES:
        run = run_trl(
            args.mode,
            model,
            tokenizer,
            records,
            args.steps,
            args.batch_size,
            _lora(),
            args.bf16,
            warmup_steps=args.warmup_steps,
            before_step=_gate if args.gated else lambda: None,
        )
        steps, seconds, cpu = run.steps, run.seconds, run.cpu_seconds
        real, labels = run.real_tokens, run.label_tokens
        extra["trl"] = run.settings
        model = run.model
    else:
        model, steps, seconds, cpu, real, labels = _own_loop(model, tokenizer, records, args)
        extra["gradient_checkpointing"] = args.gradient_checkpointing
        extra["rows_per_step"] = args.rows_per_step
        extra["micro_batch_tokens"] = args.micro_batch_tokens
    _, trainable = count_parameters(model)
    print(
        json.dumps(
            {
                "mode": args.mode,
                "steps": steps,
                "warmup_steps": args.warmup_steps,
                "seconds": seconds,
                "real_tokens": real,
                "real_tokens_per_s": real / seconds,
                "label_tokens_per_s": labels / seconds,
                "peak_rss_gib": _peak_rss_gib(),
                "setup_rss_gib": setup_rss_gib,
                # CPU time of the timed steps: less sensitive than wall time to other load.
                "cpu_seconds": cpu,
                "threads": torch.get_num_threads(),
                "records": len(records),
                "record_tokens_mean": sum(len(r.input_ids) for r in records) / len(records),
                "base_params": base_params,
                "trainable_params": trainable,
                **extra,
            }
        )
    )


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _lora() -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=LORA_R,
        lora_alpha=LORA_ALPHA,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def _own_loop(
    model: Any, tokenizer: Any, records: list[Any], args: argparse.Namespace
) -> tuple[Any, int, float, float, int, int]:
    """The two hand-written loops: ours (packed rows) and plain PEFT (padded records)."""
    import torch
    from peft import get_peft_model

    from scaler_wizard.data.packing import pack_examples
    from scaler_wizard.growth import GrowthContext
    from scaler_wizard.growth.lora import LoraOptions, apply_lora
    from scaler_wizard.models.lean_kernels import enable_lean_kernels

    if args.mode == "scaler-wizard":
        context = GrowthContext(train_tokens=0, memory_gib=0.0, has_cuda=False)
        model, _ = apply_lora(model, LoraOptions(r=LORA_R, alpha=LORA_ALPHA, dropout=0.0), context)
        enable_lean_kernels(model)  # as `train_model` does
        if args.gradient_checkpointing:  # as `train_model` does with train.gradient_checkpointing
            model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
            model.enable_input_require_grads()
        rows = pack_examples(records, SEQ_LENGTH, pad_token_id=tokenizer.pad_token_id)
        random.Random(0).shuffle(rows)  # best-fit order puts the longest records first
        per_step = args.rows_per_step
        batches: list[Any] = [rows[i : i + per_step] for i in range(0, len(rows), per_step)]
    else:
        model = get_peft_model(model, _lora())
        shuffled = list(records)
        random.Random(0).shuffle(shuffled)
        per_step = args.batch_size
        batches = [shuffled[i : i + per_step] for i in range(0, len(shuffled), per_step)]
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(batch: Any) -> tuple[int, int]:
        if args.mode == "scaler-wizard":
            r, n = _packed_step(model, batch, args.loss_chunk_tokens, args.micro_batch_tokens)
        else:
            r, n = _padded_step(model, batch, tokenizer.pad_token_id)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return r, n

    for batch in batches[: args.warmup_steps]:  # untimed, as for the TRL modes
        step(batch)
    timed = batches[args.warmup_steps : args.warmup_steps + args.steps]
    real = labels = 0
    elapsed = cpu = 0.0
    for batch in timed:
        if args.gated:
            _gate()
        started, cpu_started = time.perf_counter(), cpu_seconds()
        r, n = step(batch)
        elapsed, cpu = elapsed + time.perf_counter() - started, cpu + cpu_seconds() - cpu_started
        real, labels = real + r, labels + n
    return model, len(timed), elapsed, cpu, real, labels


def _gate() -> None:
    """Tell run.py this process is idle and wait until it says go (untimed)."""
    print("gate", flush=True)
    if not sys.stdin.readline():
        sys.exit("the lockstep driver went away")


def _trim(row: Any) -> Any:
    from scaler_wizard.data.tokenize import TokenizedExample

    n = row.lengths[0]
    return TokenizedExample(row.input_ids[:n], row.labels[:n])


def _packed_step(
    model: Any, rows: list[Any], chunk_tokens: int, micro_batch_tokens: int | None
) -> tuple[int, int]:
    from scaler_wizard.data import step_batches
    from scaler_wizard.train.loop import accumulate_gradients

    micro = step_batches([rows], micro_batch_tokens)  # as `train_model` cuts a step
    _, labels = accumulate_gradients(model, micro, chunk_tokens, lambda loss: loss.backward())
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
