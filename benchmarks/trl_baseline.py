"""TRL `SFTTrainer` baselines for `train_throughput.py`: padded, packed and padding-free.

Each mode is SFTTrainer as its documentation configures it; only what a benchmark must fix is
set here (steps, batch size, seed, fp32, no logging/eval/saving). TRL's own defaults stay on,
notably gradient checkpointing (SFTConfig defaults it to True) and its fused, chunked LM head.
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# The SFTConfig fields each mode changes; everything else is shared (see `sft_config`).
MODES: dict[str, dict[str, Any]] = {
    "trl-padded": {"packing": False, "padding_free": False, "max_length": 1024},
    # bfd packing turns padding-free on by itself: rows are flattened, no pad tokens.
    "trl-packed": {"packing": True, "packing_strategy": "bfd", "max_length": 1024},
    # Without packing TRL refuses a max_length ("not enforced") and asks for already
    # truncated inputs: the records are truncated to 1024 tokens when they are tokenized.
    "trl-padding-free": {"packing": False, "padding_free": True, "max_length": None},
}


@dataclass
class TrlRun:
    steps: int
    seconds: float
    cpu_seconds: float  # process CPU time over the same steps
    real_tokens: int  # non-padding input tokens of the timed optimizer steps
    label_tokens: int  # positions whose next-token label is set
    settings: dict[str, Any]  # the SFTConfig fields that matter here, as TRL resolved them
    model: Any  # the PEFT model TRL trained


def sft_config(mode: str, steps: int, batch_size: int, output_dir: str, bf16: bool = False) -> Any:
    from trl import SFTConfig

    return SFTConfig(
        output_dir=output_dir,
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=1,
        learning_rate=1e-4,  # the same as the other modes
        seed=0,
        bf16=bf16,  # fp32 like every other mode unless asked (SFTConfig defaults to bf16)
        use_cpu=True,
        report_to="none",
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        **MODES[mode],
    )


def run_trl(
    mode: str,
    model: Any,
    tokenizer: Any,
    records: Sequence[Any],
    steps: int,
    batch_size: int,
    lora: Any,
    bf16: bool = False,
    warmup_steps: int = 0,
    before_step: Callable[[], None] = lambda: None,
) -> TrlRun:
    """Train `model` (a plain causal LM; TRL wraps it with `lora`) for `warmup_steps` untimed and
    then `steps` timed optimizer steps on `records` (tokenized: `input_ids`, `labels` with -100
    outside assistant turns). `before_step` runs, untimed, before each timed step."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTTrainer

    # Pre-tokenized records: TRL skips its own tokenization and trains on exactly the tokens
    # and assistant-only labels the other modes see.
    dataset = Dataset.from_dict(
        {"input_ids": [r.input_ids for r in records], "labels": [r.labels for r in records]}
    )
    counts = {"real": 0, "labels": 0}
    clock = {"seconds": 0.0, "cpu": 0.0}

    class Timer(TrainerCallback):
        # Only optimizer steps after the warm-up are timed: model wrapping and dataset packing
        # are setup.
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step >= warmup_steps:
                before_step()
                clock["start"], clock["cpu_start"] = time.perf_counter(), cpu_seconds()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if "start" in clock:
                clock["seconds"] += time.perf_counter() - clock.pop("start")
                clock["cpu"] += cpu_seconds() - clock.pop("cpu_start")

    class CountingTrainer(SFTTrainer):
        def training_step(self, model: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            if self.state.global_step >= warmup_steps:
                counts["real"] += _real_tokens(inputs)
                counts["labels"] += int((inputs["labels"][:, 1:] != -100).sum())
            return super().training_step(model, inputs, *args, **kwargs)

    with tempfile.TemporaryDirectory() as out:
        config = sft_config(mode, warmup_steps + steps, batch_size, out, bf16)
        trainer = CountingTrainer(
            model=model,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=[Timer()],
        )
        trainer.train()
    settings = {
        "packing": config.packing,
        "packing_strategy": config.packing_strategy if config.packing else None,
        "padding_free": trainer.padding_free,
        "max_length": config.max_length,
        "gradient_checkpointing": config.gradient_checkpointing,
        "bf16": config.bf16,
        "optim": str(getattr(config.optim, "value", config.optim)),
        "loss_type": config.loss_type,
    }
    return TrlRun(
        steps=trainer.state.global_step - warmup_steps,
        seconds=clock["seconds"],
        cpu_seconds=clock["cpu"],
        real_tokens=counts["real"],
        label_tokens=counts["labels"],
        settings=settings,
        model=trainer.model,
    )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _real_tokens(inputs: Any) -> int:
    if "attention_mask" in inputs:
        return int(inputs["attention_mask"].sum())
    # Padding-free batches are one flattened sequence without pad tokens (pad_to_multiple_of
    # is None off Neuron).
    return int(inputs["input_ids"].numel())
