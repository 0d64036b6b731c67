"""The training loop, readable top to bottom: batches → loss on label tokens → step → log."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from scaler_wizard.evaluate.loss import label_loss_sum, prefix_config
from scaler_wizard.growth.base import TrainingNeeds
from scaler_wizard.recipe.spec import SafetySpec, TrainSpec
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import CheckpointSaved, ProgressUpdated, StepLogged
from scaler_wizard.train.checkpoint import (
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    training_state,
)
from scaler_wizard.train.distill import (
    Distillation,
    check_vocabularies,
    distill_loss_sums,
    freeze,
)
from scaler_wizard.train.parallel import (
    ZERO_STAGES,
    Processes,
    agree_stop,
    copy_from_main,
    label_tokens,
    launched_mode,
    launched_offload,
    leaving,
    refuse_sharding,
    sum_across,
    sum_gradients,
)
from scaler_wizard.train.schedule import lr_multiplier
from scaler_wizard.train.signals import stop_requests
from scaler_wizard.train.watch import SafetyWatch


class Row(Protocol):
    @property
    def input_ids(self) -> list[int]: ...

    @property
    def labels(self) -> list[int]: ...

    @property
    def position_ids(self) -> list[int]: ...


@dataclass
class TrainResult:
    steps: int
    duration_s: float
    tokens_per_s: float
    label_tokens: int
    losses: list[tuple[int, float]] = field(default_factory=list)
    # Mean KD term per label token at each logged step; empty without distillation.
    distill_losses: list[tuple[int, float]] = field(default_factory=list)
    final_reports: dict[str, Any] = field(default_factory=dict)


class TrainingPaused(RuntimeError):  # noqa: N818 - a state, not a failure
    """SIGTERM/SIGINT, or the breaker, stopped training after a checkpoint; it can resume."""

    def __init__(
        self, step: int, checkpoint: Path, reason: str = "stop requested", by_breaker: bool = False
    ) -> None:
        self.step, self.checkpoint, self.reason = step, checkpoint, reason
        self.by_breaker = by_breaker
        super().__init__(f"paused at step {step} ({reason}); checkpoint {checkpoint}")


class TrainingAborted(RuntimeError):  # noqa: N818 - a decision, named for what happened
    """The safety breaker stopped the run; the reason says why in plain words."""


def train_model(
    model: Any,
    rows: Sequence[Row],
    spec: TrainSpec,
    bus: EventBus,
    checkpoint_dir: Path,
    needs: TrainingNeeds | None = None,
    resume_from: Path | None = None,
    safety: SafetySpec | None = None,
    teacher: Any = None,
    skip_to_step: int | None = None,
) -> TrainResult:
    """Train `model` on `rows`; with `spec.distill`, `teacher` (a frozen model) supplies the
    soft targets mixed into the loss. `skip_to_step` (with `resume_from`) continues with the
    batches after that step, skipping the ones between the checkpoint and a breaker trip.

    Torch's thread count is `spec.threads` (default: every core) while training, and what it
    was before afterwards: a notebook or a library caller keeps its own setting."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(spec.threads or os.cpu_count() or 1)
    try:
        return _train_model(
            model, rows, spec, bus, checkpoint_dir, needs, resume_from, safety, teacher,
            skip_to_step,
        )  # fmt: skip
    finally:
        torch.set_num_threads(previous)


def _train_model(
    model: Any,
    rows: Sequence[Row],
    spec: TrainSpec,
    bus: EventBus,
    checkpoint_dir: Path,
    needs: TrainingNeeds | None,
    resume_from: Path | None,
    safety: SafetySpec | None,
    teacher: Any,
    skip_to_step: int | None,
) -> TrainResult:
    import torch
    from accelerate import Accelerator

    from scaler_wizard.data import step_batches
    from scaler_wizard.models.lean_kernels import enable_lean_kernels

    refuse_sharding()  # a Megatron launch would otherwise run as plain data parallelism
    random.seed(spec.seed)
    torch.manual_seed(spec.seed)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    procs = Processes(accelerator.process_index, accelerator.num_processes)
    if not procs.is_main:  # one voice per run: the other processes train silently
        bus = EventBus(bus.run_id, [], first_seq=bus.next_seq)
    # The model is not wrapped for DDP: gradients are summed explicitly (train.parallel).
    model.to(accelerator.device)
    enable_lean_kernels(model)  # faster forwards, the same values and gradients
    if spec.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    needs = needs or TrainingNeeds()
    if procs.world > 1:  # every process starts from rank 0's weights, as DDP does
        copy_from_main([p for p in model.parameters() if p.requires_grad])
    offload = launched_offload(spec.offload)
    mode = launched_mode(spec.parallel)
    if procs.world == 1 and offload == "none":  # nothing to share: plain training
        mode = "ddp"
    if offload == "parameters" and mode != "zero3":  # a ZeRO-2 launch, a ZeRO-3 recipe
        raise ValueError(
            f"train.offload: parameters needs ZeRO-3, and this launch runs {mode}; launch with "
            "zero_stage: 3 or set train.offload: optimizer"
        )
    _check_micro_batch_tokens(model, spec, mode, procs.world)
    distill = _distillation(model, teacher, spec, accelerator.device)
    if mode != "ddp" and (needs.step_hooks or needs.loss_terms):
        # They read and write whole weights between steps, which are sharded here.
        raise ValueError(
            f"train.parallel: {mode} cannot run a growth method with step hooks or extra loss "
            "terms (adalora, vocabulary growth); use train.parallel: ddp"
        )
    root = None  # the sharded model's root unit (train.parallel: fsdp)
    if mode.startswith("fsdp"):
        from scaler_wizard.train.sharding import shard

        # fsdp_grad_op keeps a layer gathered from forward to backward (ZeRO-2-like).
        root = shard(model, reshard_after_forward=mode != "fsdp_grad_op")
    params = [p for p in model.parameters() if p.requires_grad]  # sharded ones, under fsdp
    optimizer = torch.optim.AdamW(
        param_groups(model, spec.learning_rate, needs.lr_multipliers),
        lr=spec.learning_rate,
        weight_decay=spec.weight_decay,
        betas=(0.9, 0.95),
        fused=torch.cuda.is_available(),
    )
    zero = None  # the DeepSpeed engine that runs backward and the step (train.parallel: zeroN)
    if mode in ZERO_STAGES:
        from scaler_wizard.train.zero import ZeroRun

        zero = ZeroRun(model, optimizer, ZERO_STAGES[mode], spec.max_grad_norm, offload)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_multiplier(s, spec.warmup_steps, spec.steps)
    )
    result = TrainResult(steps=spec.steps, duration_s=0.0, tokens_per_s=0.0, label_tokens=0)
    batches = _batch_order(len(rows), spec, procs.world)
    row_labels = [label_tokens(r.labels) for r in rows]
    watch = SafetyWatch(safety or SafetySpec(), bus)
    step = 0  # optimizer steps done
    if resume_from is not None:
        progress = load_checkpoint(resume_from, model, optimizer, scheduler, zero)
        step = int(progress["step"])
        result.losses = [(int(s), float(v)) for s, v in progress.get("losses", [])]
        result.distill_losses = [(int(s), float(v)) for s, v in progress.get("distill", [])]
        watch.restore(progress.get("breaker"))
        for _ in range(max(step, skip_to_step or 0)):  # the batches an uninterrupted run sees
            next(batches)
    model.train()
    started = time.perf_counter()
    first_step, window_loss, window_tokens, seen_tokens = step, 0.0, 0, 0
    window_kd = [0.0]  # the step's KD sum lands here (accumulate_gradients returns LM only)
    bus.emit(ProgressUpdated(task="train", done=step, total=spec.steps))

    def checkpoint(at: int) -> Path:
        extra = {
            "seed": spec.seed,
            "losses": result.losses,
            "distill": result.distill_losses,
            "seq": bus.next_seq,
            "breaker": watch.dump(),
        }
        path = checkpoint_path(checkpoint_dir, at)
        # ddp: every process holds the same state after the gradient sum, rank 0 saves its
        # own; fsdp, zero: every process gathers the shards, rank 0 saves them.
        if zero is not None:
            state = zero.training_state()
        elif root is not None or procs.is_main:
            state = training_state(model, optimizer)
        else:
            state = None
        if procs.is_main and state is not None:
            save_checkpoint(checkpoint_dir, at, state, scheduler, extra)
        accelerator.wait_for_everyone()  # whole before anyone pauses at it or rolls back to it
        bus.emit(CheckpointSaved(path=str(path)))
        return path

    # fsdp, zero: the model leaves sharding when training ends, or pauses or aborts on every
    # process.
    agreed = (TrainingPaused, TrainingAborted)
    with stop_requests() as stop, leaving(_finish(root, zero), agreed):
        while step < spec.steps:
            groups = next(batches)  # the whole step's micro-batches, identical in every process
            step_tokens = sum(row_labels[i] for idx in groups for i in idx)
            share = [[rows[i] for i in idx] for idx in procs.share(groups)]
            micro = step_batches(share, spec.micro_batch_tokens)
            step_loss, _ = accumulate_gradients(
                model,
                micro,
                spec.loss_chunk_tokens,
                accelerator.backward if zero is None else zero.backward_for(len(micro)),
                accelerator.device,
                needs.loss_terms,
                distill,
                window_kd,
                total_tokens=step_tokens,
                root=root if zero is None else zero,
            )
            if procs.world > 1:
                if mode == "ddp":  # fsdp and zero have reduced (summed) them in backward
                    sum_gradients(params)
                step_loss = sum_across(step_loss, accelerator.device)
            seen_tokens += sum(len(rows[i].input_ids) for idx in groups for i in idx)
            if zero is not None:
                grad_norm = zero.step()  # clips, steps and clears the gradients itself
            else:
                if root is None:
                    grad_norm = float(accelerator.clip_grad_norm_(params, spec.max_grad_norm))
                else:
                    grad_norm = _clip_sharded(params, spec.max_grad_norm)
                optimizer.step()
            scheduler.step()
            for hook in needs.step_hooks:
                hook(step + 1)
            if zero is None:  # the engine keeps (and clears) its own gradient buffers
                optimizer.zero_grad(set_to_none=True)
            step += 1
            bus.step = step
            window_loss += step_loss
            window_tokens += step_tokens
            result.label_tokens += step_tokens
            action = "continue"
            if step % spec.log_every == 0 or step == spec.steps:
                now = time.perf_counter()
                mean_loss = window_loss / max(window_tokens, 1)
                result.losses.append((step, mean_loss))
                if distill is not None:
                    kd = window_kd[0]
                    if procs.world > 1:
                        kd = sum_across(kd, accelerator.device)
                    result.distill_losses.append((step, kd / max(window_tokens, 1)))
                    window_kd[0] = 0.0
                bus.emit(
                    StepLogged(
                        loss=mean_loss,
                        grad_norm=grad_norm,
                        learning_rate=scheduler.get_last_lr()[0],
                        tokens_per_s=seen_tokens / (now - started),
                        memory_gib=_memory_gib(),
                        eta_s=(now - started) / max(step - first_step, 1) * (spec.steps - step),
                        label_tokens=window_tokens,
                    )
                )
                window_loss, window_tokens = 0.0, 0
                verdict = watch.observe_step(step, mean_loss, grad_norm)
                action, reason = verdict.action, verdict.reason
            if action == "rollback":
                healthy = latest_checkpoint(checkpoint_dir, before=step - watch.spike_span(spec))
                if healthy is None:
                    raise TrainingAborted(f"{reason}; no earlier checkpoint to roll back to")
                progress = load_checkpoint(healthy, model, optimizer, scheduler, zero)
                # The batches that caused the trouble are skipped: `batches` is not rewound.
                step = int(progress["step"])
                result.losses = [(int(s), float(v)) for s, v in progress.get("losses", [])]
                result.distill_losses = [(int(s), float(v)) for s, v in progress.get("distill", [])]
                bus.segment += 1
                bus.step = step
                watch.resumed(step)
                continue
            if action == "abort":
                raise TrainingAborted(reason)
            if action == "pause" and step < spec.steps:
                # Pause at the last checkpoint before the trouble: the current weights may
                # already carry it (a NaN step has updated them).
                healthy = latest_checkpoint(checkpoint_dir, before=step - watch.spike_span(spec))
                if healthy is None:
                    raise TrainingAborted(f"{reason}; no healthy checkpoint to pause at")
                raise TrainingPaused(step, healthy, reason, by_breaker=True)
            stopping = stop.requested
            if procs.world > 1:  # a signal may reach the processes at different steps
                stopping = agree_stop(stopping, accelerator.device)
            if stopping and step < spec.steps:
                raise TrainingPaused(step, checkpoint(step))
            if step % spec.checkpoint_every == 0 and step < spec.steps and watch.healthy:
                checkpoint(step)
    model.eval()
    for report in needs.final_reports:
        result.final_reports.update(report())
    result.duration_s = time.perf_counter() - started
    result.tokens_per_s = seen_tokens / max(result.duration_s, 1e-9)
    return result


def param_groups(
    model: Any, learning_rate: float, multipliers: dict[str, float]
) -> list[dict[str, Any]]:
    """Trainable parameters grouped by learning rate; the first matching substring wins."""
    groups: dict[float, list[Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        factor = next((f for key, f in multipliers.items() if key in name), 1.0)
        groups.setdefault(factor, []).append(param)
    return [{"params": ps, "lr": learning_rate * f} for f, ps in groups.items()]


def accumulate_gradients(
    model: Any,
    micro_batches: Sequence[dict[str, Any]],
    chunk_tokens: int,
    backward: Callable[[Any], None],
    device: Any = None,
    loss_terms: Sequence[Callable[[], Any]] = (),
    distill: Distillation | None = None,
    kd_out: list[float] | None = None,
    total_tokens: int | None = None,
    root: Any = None,
) -> tuple[float, int]:
    """Backward over the micro-batches of one optimizer step; returns (summed LM loss, label
    tokens).

    The loss is normalised by the label tokens of the whole step, not per micro-batch: rows
    differ in how many tokens carry loss, and every token must weigh the same. With `distill`,
    the objective is (1 - w)·LM + w·KD, both normalised alike; the KD sum is added to
    `kd_out[0]` (the returned loss stays the LM loss, comparable with evaluation and watched by
    the breaker). With several processes, `total_tokens` is the label-token count of the whole
    step across processes (default: these micro-batches' own). A sharded model computes its
    loss through its `root` (`sharding.LossCall`), whose forward gathers what the loss needs.
    """
    step_tokens = total_tokens
    if step_tokens is None:
        step_tokens = sum(int((b["labels"][:, 1:] != -100).sum()) for b in micro_batches)
    step_loss = 0.0
    call = root if root is not None else (lambda loss: loss(model))
    for index, batch in enumerate(micro_batches):
        batch = {k: v.to(device) if device is not None else v for k, v in batch.items()}
        if distill is None:
            loss_sum, _ = call(
                lambda m, batch=batch: label_loss_sum(
                    m,
                    batch["input_ids"],
                    batch["labels"],
                    batch["position_ids"],
                    chunk_tokens=chunk_tokens,
                    recompute_chunks=True,
                )
            )
            objective = loss_sum
        else:
            loss_sum, kd, _ = call(
                lambda m, batch=batch: distill_loss_sums(
                    m,
                    distill,
                    batch["input_ids"],
                    batch["labels"],
                    batch["position_ids"],
                    chunk_tokens=chunk_tokens,
                    recompute_chunks=True,
                )
            )
            objective = (1 - distill.weight) * loss_sum + distill.weight * kd
            if kd_out is not None:
                kd_out[0] += float(kd.detach())
        loss = objective / max(step_tokens, 1)
        if index == 0:  # regularisers act on weights, once per optimizer step
            loss = loss + sum((term() for term in loss_terms), loss.new_zeros(()))
        backward(loss)
        step_loss += float(loss_sum.detach())
    return step_loss, step_tokens


def _check_micro_batch_tokens(model: Any, spec: TrainSpec, mode: str, processes: int) -> None:
    if spec.micro_batch_tokens is None:
        return
    if prefix_config(model) is not None:
        raise ValueError(
            "train.micro_batch_tokens re-packs examples into shared rows, and prefix tuning "
            "needs one example per row; unset train.micro_batch_tokens"
        )
    if mode != "ddp" and processes > 1:
        # Every forward (fsdp, zero3) or backward (zero2) is a collective: the processes
        # must run as many passes.
        raise ValueError(
            "train.micro_batch_tokens gives processes different numbers of forward passes, "
            f"which train.parallel: {mode} cannot run; unset it or use train.parallel: ddp"
        )


def _finish(root: Any, zero: Any) -> Callable[[], None] | None:
    """How the model leaves sharding after training: FSDP's unshard or DeepSpeed's finish."""
    if zero is not None:
        return zero.finish  # type: ignore[no-any-return]
    if root is not None:
        from scaler_wizard.train.sharding import unshard

        return lambda: unshard(root)
    return None


def _clip_sharded(params: list[Any], max_norm: float) -> float:
    from scaler_wizard.train.sharding import clip_gradients

    return clip_gradients(params, max_norm)


def _distillation(model: Any, teacher: Any, spec: TrainSpec, device: Any) -> Distillation | None:
    if spec.distill is None:
        if teacher is not None:
            raise ValueError("a teacher was given but train.distill is not set")
        return None
    if teacher is None:
        raise ValueError("train.distill is set but no teacher model was given")
    check_vocabularies(model, teacher)
    return Distillation.from_spec(freeze(teacher).to(device), spec.distill)


def _batch_order(n_rows: int, spec: TrainSpec, processes: int = 1) -> Any:
    """Endless micro-batch index groups: seeded shuffle per epoch, one list per step holding
    `grad_accum_steps` micro-batches for each of `processes`."""
    rng = random.Random(spec.seed)
    order: list[int] = []
    while True:
        groups = []
        for _ in range(spec.grad_accum_steps * processes):
            if len(order) < spec.batch_size:
                epoch = list(range(n_rows))
                rng.shuffle(epoch)
                order.extend(epoch * max(1, -(-spec.batch_size // max(n_rows, 1))))
            groups.append(order[: spec.batch_size])
            del order[: spec.batch_size]
        yield groups


def _memory_gib() -> float:
    import resource

    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
