"""DeepSpeed ZeRO for the explicit loop (`train.parallel: zero2` / `zero3`, or a DeepSpeed
`accelerate launch`: `parallel.zero_stage`).

The loop stays the loop: it computes the loss, the engine runs backward and the optimizer
step. ZeRO-2 splits gradients and optimizer state across the processes; ZeRO-3 splits the
parameters too and gathers each module's while it computes. The engine wraps `LossCall`, whose
single `forward` runs a whole loss computation, so DeepSpeed's per-step bookkeeping (start and
end of forward) brackets the chunked loss exactly as it would a model's `forward`.

Gradients: DeepSpeed averages them over the processes; the loss here is already a share of
the whole step's (divided by the step's label tokens on every process), so it is multiplied by
the process count first, and the sum comes out. Clipping is the engine's own
(`gradient_clipping`), over the whole gradient.

Checkpoints keep the loop's one format: the whole fp32 weights and Adam moments are gathered
from the partitions (a collective) into the state a torch AdamW saves, and loading cuts them
back. So a ZeRO run resumes, rolls back to and exports from a checkpoint like any other.

`finish` ends it: the hooks go, and every process gets the whole model back as plain
parameters, so rank 0 can evaluate and export alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from scaler_wizard.train.sharding import LossCall

# DeepSpeed's own settings that the loop does not decide; tests may lower the ZeRO-3
# persistence threshold (parameters smaller than it stay whole on every process).
ENGINE_DEFAULTS: dict[str, Any] = {"stage3_param_persistence_threshold": 100_000}
ADAM_MOMENTS = ("exp_avg", "exp_avg_sq")


def engine_config(
    stage: int,
    max_grad_norm: float,
    dtype: torch.dtype,
    offload: str = "none",
    live_parameters: int | None = None,
) -> dict[str, Any]:
    """The DeepSpeed config for one optimizer step per `engine.step()`, in `dtype`; `offload`
    ("optimizer", "parameters") keeps those in CPU RAM. Under ZeRO-3, `live_parameters` bounds
    how many gathered parameter elements stay whole at once (DeepSpeed's default, 1e9, keeps
    a small model's every layer gathered through forward and backward: no memory saved)."""
    zero: dict[str, Any] = {"stage": stage}
    if stage == 3:
        zero |= ENGINE_DEFAULTS
        if live_parameters is not None:
            zero["stage3_max_live_parameters"] = live_parameters
            zero["stage3_max_reuse_distance"] = live_parameters
            zero["stage3_prefetch_bucket_size"] = live_parameters // 2
            zero["reduce_bucket_size"] = live_parameters  # gradients in flight, likewise
    pinned = torch.cuda.is_available()  # page-locked RAM copies faster to and from a GPU
    if offload in ("optimizer", "parameters"):
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": pinned}
    if offload == "parameters":
        zero["offload_param"] = {"device": "cpu", "pin_memory": pinned}
    return {
        "train_micro_batch_size_per_gpu": 1,  # DeepSpeed counts samples; the loop batches
        "gradient_accumulation_steps": 1,  # the loop marks each step's last backward itself
        "gradient_clipping": max_grad_norm,
        "bf16": {"enabled": dtype == torch.bfloat16},
        "fp16": {"enabled": dtype == torch.float16, "auto_cast": False},
        "zero_optimization": zero,
        "zero_allow_untested_optimizer": True,  # torch's AdamW, with our parameter groups
        "zero_force_ds_cpu_optimizer": False,  # offloaded, torch's AdamW steps in RAM
        "steps_per_print": 2**31 - 1,  # the loop reports progress itself
        "wall_clock_breakdown": False,
    }


class ZeroRun:
    """A model and its optimizer under a DeepSpeed ZeRO engine, for the explicit loop."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        stage: int,
        max_grad_norm: float,
        offload: str = "none",
    ) -> None:
        if not torch.cuda.is_available():  # DeepSpeed otherwise looks for an accelerator
            os.environ.setdefault("DS_ACCELERATOR", "cpu")
        try:
            import deepspeed
        except ImportError as exc:
            raise ValueError(
                f"train.parallel: zero{stage} runs on DeepSpeed, which is not installed: "
                "DS_BUILD_OPS=0 pip install 'scaler-wizard[deepspeed]'"
            ) from exc

        self.model, self.optimizer, self.stage = model, optimizer, stage
        # The parameters in the optimizer's order, before ZeRO replaces them by flat partitions.
        self.groups = [list(group["params"]) for group in optimizer.param_groups]
        self.params = [param for group in self.groups for param in group]
        names = {id(p): n for n, p in model.named_parameters()}
        self.names = [names[id(param)] for param in self.params]
        dtype = next(iter(self.params)).dtype
        config = engine_config(
            stage, max_grad_norm, dtype, offload=offload, live_parameters=live_bound(model)
        )
        if not torch.distributed.is_initialized():
            _group_of_one()
        self.engine, *_ = deepspeed.initialize(
            model=LossCall(model), optimizer=optimizer, config=config, dist_init_required=False
        )
        self.world = int(self.engine.dp_world_size)

    def __call__(self, loss: Callable[[nn.Module], Any]) -> Any:
        """Run `loss(model)` inside the engine's forward."""
        return self.engine(loss)

    def backward_for(self, passes: int) -> Callable[[torch.Tensor], None]:
        """A backward for a step of `passes` forward passes on this process; the last one is
        where the gradients are reduced across the processes."""
        done = [0]

        def backward(loss: torch.Tensor) -> None:
            done[0] += 1
            self.engine.set_gradient_accumulation_boundary(done[0] == passes)
            # DeepSpeed averages over processes; the loop's losses are already shares: sum.
            self.engine.backward(loss * self.world, scale_wrt_gas=False)

        return backward

    def step(self) -> float:
        """Clip, step the optimizer and clear the gradients; returns the gradient norm before
        clipping (the same on every process)."""
        self.engine.step()
        norm = self.engine.get_global_grad_norm()
        return float(norm) if norm is not None else float("nan")

    def training_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The whole trainable weights and a torch AdamW state dict of the whole Adam state,
        as `checkpoint.training_state` gives them. A collective: every process calls it."""
        from deepspeed.utils import safe_get_full_fp32_param, safe_get_full_optimizer_state

        step = self._adam_step()
        weights: dict[str, Any] = {}
        state: dict[int, dict[str, Any]] = {}
        for index, (name, param) in enumerate(zip(self.names, self.params, strict=True)):
            weights[name] = safe_get_full_fp32_param(param).detach().cpu().clone()
            if step is not None:
                moments = {k: safe_get_full_optimizer_state(param, k) for k in ADAM_MOMENTS}
                state[index] = {"step": step.clone()}
                state[index] |= {k: v.detach().cpu().clone() for k, v in moments.items()}
        groups, start = [], 0  # torch numbers the parameters across groups, in order
        for group, params in zip(self.optimizer.param_groups, self.groups, strict=True):
            options = {k: v for k, v in group.items() if k != "params"}
            groups.append({**options, "params": list(range(start, start + len(params)))})
            start += len(params)
        return weights, {"state": state, "param_groups": groups}

    def load_training_state(self, weights: dict[str, Any], optimizer_state: dict[str, Any]) -> None:
        """Put whole weights and a torch AdamW state dict (as `training_state` gives them, or
        as a run without DeepSpeed saved them) into the partitions. A collective."""
        import deepspeed
        from deepspeed.utils import safe_set_full_fp32_param, safe_set_full_optimizer_state

        saved = optimizer_state["state"]
        step = next((values["step"] for values in saved.values()), None)
        self._ensure_adam_state()
        for index, (name, param) in enumerate(zip(self.names, self.params, strict=True)):
            value = weights[name].to(param.dtype)
            with deepspeed.zero.GatheredParameters([param], modifier_rank=0), torch.no_grad():
                param.data.copy_(value.to(param.device))  # the weights the model computes with
            safe_set_full_fp32_param(param, value.float())  # the optimizer's master copy
            for key in ADAM_MOMENTS:
                if index in saved:
                    safe_set_full_optimizer_state(param, saved[index][key].float(), key)
                else:  # saved before the first step: no moments yet
                    safe_set_full_optimizer_state(param, torch.zeros(param_shape(param)), key)
        for values in self._base_state().values():
            values["step"] = (step if step is not None else torch.tensor(0.0)).clone()
        for group, saved_group in zip(
            self.optimizer.param_groups, optimizer_state["param_groups"], strict=True
        ):
            group.update({k: v for k, v in saved_group.items() if k != "params"})

    def finish(self) -> None:
        """Leave DeepSpeed: remove its hooks and give every process the whole model back as
        plain parameters (a collective under ZeRO-3)."""
        import deepspeed

        whole: dict[int, nn.Parameter] = {}  # tied parameters stay tied
        if self.stage == 3:
            for param in self.model.parameters():  # one at a time: the model once, not twice
                with deepspeed.zero.GatheredParameters([param], modifier_rank=None):
                    whole[id(param)] = nn.Parameter(
                        param.data.detach().clone(), requires_grad=param.requires_grad
                    )
        self.engine.destroy()
        for module in self.model.modules():
            original = module.__dict__.pop("_original_parameters", None)
            params = module._parameters
            plain = dict(original if original is not None else params)
            plain.update(dict(params))
            for name, param in plain.items():
                if param is not None and id(param) in whole:
                    plain[name] = whole[id(param)]
            module._parameters = plain

    def _base_state(self) -> dict[Any, dict[str, Any]]:
        """The wrapped torch optimizer's state, keyed by ZeRO's flat partitions."""
        base = getattr(self.engine.optimizer, "optimizer", self.engine.optimizer)
        return base.state  # type: ignore[no-any-return]

    def flat_partitions(self) -> list[torch.Tensor]:
        """The flat fp32 partitions this process's Adam steps (ZeRO-3 hands them to it only
        while stepping)."""
        ours = self.engine.optimizer
        flats = getattr(ours, "fp32_partitioned_groups_flat", None)
        found = flats if flats is not None else ours.single_partition_of_fp32_groups
        return [flat for flat in found if flat is not None]

    def _adam_step(self) -> torch.Tensor | None:
        return next((values["step"] for values in self._base_state().values()), None)

    def _ensure_adam_state(self) -> None:
        """Adam creates its state at the first step; a load before it creates it here."""
        for flat in self.flat_partitions():
            state = self._base_state()[flat]  # ZeRO-3 creates it empty
            state.setdefault("step", torch.tensor(0.0))
            for key in ADAM_MOMENTS:
                state.setdefault(key, torch.zeros_like(flat))
        # ZeRO-2 links each parameter to its slice of the moments after the first step.
        link = getattr(self.engine.optimizer, "_lazy_init_hp_params_optimizer_state", None)
        if link is not None:
            link()


def live_bound(model: nn.Module) -> int | None:
    """ZeRO-3's bound on gathered elements for `model`: two of its largest units (a decoder
    layer, or a single larger tensor such as the embedding), so that about one layer computes
    while the next is fetched, as FSDP holds them. None when the model names no layers."""
    from scaler_wizard.train.sharding import decoder_layers

    layers = decoder_layers(model)
    if not layers:
        return None
    layer = max(sum(param_numel(p) for p in lay.parameters()) for lay in layers)
    tensor = max(param_numel(p) for p in model.parameters())
    return 2 * max(layer, tensor)


def _group_of_one() -> None:
    """A process group of this process alone, for ZeRO-Offload on one device. It stays for the
    life of the process: DeepSpeed caches its groups, so a later engine needs the same one."""
    os.environ.setdefault("LOCAL_RANK", "0")  # DeepSpeed checks that a launcher set it
    torch.distributed.init_process_group(
        "nccl" if torch.cuda.is_available() else "gloo",
        store=torch.distributed.HashStore(),  # type: ignore[attr-defined]
        rank=0,
        world_size=1,
    )


def param_shape(param: Any) -> tuple[int, ...]:
    """A parameter's whole shape, also when ZeRO-3 holds only a partition of it."""
    return tuple(getattr(param, "ds_shape", param.shape))


def param_numel(param: Any) -> int:
    """A parameter's whole element count, also when ZeRO-3 holds only a partition of it."""
    return int(getattr(param, "ds_numel", param.numel()))


def zero_hooks(model: nn.Module) -> list[str]:
    """Names of the modules of `model` that DeepSpeed still holds: a hook of its own, a ZeRO
    parameter dict, or a partitioned parameter (none after `ZeroRun.finish`)."""
    found = []
    for name, module in model.named_modules():
        hooks = [
            *module._forward_pre_hooks.values(),
            *module._forward_hooks.values(),
            *module._backward_hooks.values(),
        ]
        owners = [getattr(hook, "__module__", None) or "" for hook in hooks]
        partitioned = any(hasattr(p, "ds_id") for p in module.parameters(recurse=False))
        foreign = type(module._parameters).__name__ == "ZeROOrderedDict"
        if partitioned or foreign or any(o.startswith("deepspeed") for o in owners):
            found.append(name or "<root>")
    return found
