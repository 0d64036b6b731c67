"""Sharded data parallelism for the explicit loop (`train.parallel: fsdp`), with FSDP2.

Each decoder layer is one FSDP unit; the rest of the model (embeddings, final norm, LM head,
adapters outside the layers) belongs to a root unit, `LossCall`, whose single `forward` runs a
whole loss computation. The root's pre-forward hook gathers those parameters once for all of
it, and FSDP keeps the root whole through backward, where the chunked LM head recomputes its
chunks; a layer is gathered only while it computes (forward, then again in backward).

Gradients are reduce-scattered as a SUM, like `sum_gradients`: each process already divides
its loss by the label tokens of the whole step. Frozen and trainable parameters may share a
unit; only the trainable ones get gradients and optimizer state (each process holds its shard).

`unshard` ends it: every process gets the whole model back as plain parameters and no FSDP
hook is left, so rank 0 can evaluate and export alone, and a later training can start afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn

T = TypeVar("T")


class LossCall(nn.Module):
    """The root FSDP unit: `forward(loss)` returns `loss(model)`, so everything a loss
    computation touches outside the decoder layers is gathered once for the whole of it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, loss: Callable[[nn.Module], T]) -> T:
        return loss(self.model)


def decoder_layers(model: Any) -> list[nn.Module]:
    """The repeated blocks transformers names in `_no_split_modules` (the decoder layers)."""
    from scaler_wizard.models.loader import unwrap

    base = unwrap(model)
    names = set(getattr(base, "_no_split_modules", None) or ())
    return [module for module in model.modules() if type(module).__name__ in names]


def shard(model: nn.Module, reshard_after_forward: bool = True) -> LossCall:
    """Shard `model` in place across the default process group; returns the root to call.

    A collective: every process calls it, with the same model."""
    from torch.distributed.fsdp import FSDPModule, fully_shard

    layers = decoder_layers(model)
    if not layers:
        raise ValueError(
            "train.parallel: fsdp shards the decoder layers, and this model names none "
            "(no `_no_split_modules`); use train.parallel: ddp"
        )
    for layer in layers:
        fully_shard(layer, reshard_after_forward=reshard_after_forward)
    root = LossCall(model)
    fully_shard(root)
    for module in root.modules():
        if isinstance(module, FSDPModule):
            # Sum, not average (the loss is normalised by the whole step's label tokens), as a
            # plain SUM reduction: gloo has no pre-multiplied sum.
            module.set_gradient_divide_factor(1.0)
            module.set_force_sum_reduction_for_comms(True)
    return root


@torch.no_grad()
def unshard(root: LossCall) -> None:
    """Give every process the whole model back as plain parameters and remove FSDP from it.

    A collective (every process gathers every parameter, in the same order). Afterwards no FSDP
    hook remains: one left on a module would make a forward on rank 0 alone wait forever for
    the others' all-gather."""
    from torch.distributed._composable.contract import REGISTRY_KEY, STATE_KEY
    from torch.distributed._composable_state import _module_state_mapping
    from torch.distributed.fsdp import FSDPModule
    from torch.distributed.tensor import DTensor

    units = [module for module in root.modules() if isinstance(module, FSDPModule)]
    for unit in units:
        unit.reshard()  # the modules hold their sharded parameters again
    whole: dict[int, nn.Parameter] = {}  # tied parameters stay tied
    for module in root.modules():
        for name, param in list(module._parameters.items()):
            if isinstance(param, DTensor):
                if id(param) not in whole:
                    whole[id(param)] = nn.Parameter(
                        param.full_tensor(), requires_grad=param.requires_grad
                    )
                module._parameters[name] = whole[id(param)]
    # FSDP2 has no public way back; these are the hooks and the class `fully_shard` installed.
    for unit in units:
        state = unit._get_fsdp_state()
        state._pre_forward_hook_handle.remove()
        state._post_forward_hook_handle.remove()
        for group in state._fsdp_param_groups:
            for handles in (
                group._module_to_pre_save_state_dict_hook_handle,
                group._module_to_pre_load_state_dict_hook_handle,
            ):
                for handle in handles.values():
                    handle.remove()
            for fsdp_param in group.fsdp_params:
                fsdp_param._post_load_hook_handle.remove()
        unit.__class__ = type(unit).__bases__[1]  # FSDP<Cls>(FSDPModule, Cls) -> Cls
        _module_state_mapping.pop(unit, None)
        # The record that fully_shard was applied, so that a later training can shard again.
        for key in (STATE_KEY, REGISTRY_KEY):
            applied = unit.__dict__.get(key, {})
            for api in [api for api in applied if getattr(api, "__name__", api) == "fully_shard"]:
                del applied[api]
    left = fsdp_hooks(root)
    if left:
        raise RuntimeError(f"FSDP hooks are left on the model after unsharding: {left[:3]}")


def fsdp_hooks(model: nn.Module) -> list[str]:
    """Names of the modules of `model` that still carry an FSDP hook or class (none after
    `unshard`)."""
    from torch.distributed.fsdp import FSDPModule

    found = []
    for name, module in model.named_modules():
        hooks = [
            *module._forward_pre_hooks.values(),
            *module._forward_hooks.values(),
            *module._state_dict_pre_hooks.values(),
            *module._load_state_dict_pre_hooks.values(),
            *module._load_state_dict_post_hooks.values(),
        ]
        owners = [getattr(hook, "__module__", None) or "" for hook in hooks]
        if isinstance(module, FSDPModule) or any("fsdp" in owner for owner in owners):
            found.append(name or "<root>")
    return found


def clip_gradients(params: list[Any], max_norm: float) -> float:
    """Clip by the norm of the whole (sharded) gradient; returns that norm, the same on every
    process and equal to the unsharded one."""
    from torch.distributed.tensor import DTensor

    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    if isinstance(norm, DTensor):  # the shards' partial norms, reduced
        norm = norm.full_tensor()
    return float(norm)


def shard_like(param: Any, value: torch.Tensor) -> torch.Tensor:
    """`value` (a whole tensor every process holds) placed as `param` is: this process's shard
    when `param` is sharded (cut locally, no communication), else `value` itself."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    if not isinstance(param, DTensor):
        return value
    return distribute_tensor(
        value.to(param.device), param.device_mesh, param.placements, src_data_rank=None
    )


def whole(value: Any) -> Any:
    """A sharded tensor gathered whole (a collective), on the CPU; anything else unchanged."""
    from torch.distributed.tensor import DTensor

    if isinstance(value, DTensor):
        return value.full_tensor().cpu()
    return value
