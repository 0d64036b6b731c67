"""LoRA layers that add their update inside one matrix multiply-add.

PEFT's LoRA linear computes `base(x) + lora_B(lora_A(x)) * scaling`: after the low-rank product
it makes two more passes over the full output width (the scaling, then the sum), and the
scaling's backward a third. `torch.addmm(base(x), lora_A(x), lora_B.weight.T, alpha=scaling)`
folds both into the multiply itself (the BLAS call scales and accumulates), and its backward
scales only the rank-wide gradients. The values and gradients are the same to float rounding,
and the parameters, adapter files and PEFT's own methods (merge, disable, save) are untouched.

Only the plain case takes this path: one or more vanilla LoRA adapters (no DoRA or other
variant, no LoRA bias), not merged, not disabled, and tensors of one dtype (or under autocast,
which casts for addmm). Anything else, and any call with extra arguments, runs PEFT's forward.
DeepSpeed ZeRO-3 parameters also take PEFT's forward: ZeRO-3 gathers a weight only when its
own module runs, and this path reads `lora_B.weight` directly.
"""

from __future__ import annotations

import types
from typing import Any

LEAN_FLAG = "_scaler_wizard_lean_lora"


def enable_lean_lora(model: Any) -> int:
    """Give every PEFT LoRA linear of `model` the fused update; returns how many. Idempotent."""
    try:
        from peft.tuners.lora.layer import Linear as LoraLinear
    except ImportError:
        return 0
    count = 0
    for module in model.modules():
        # Exactly PEFT's Linear: quantized and other subclasses keep their own forward.
        if type(module) is not LoraLinear:
            continue
        if not getattr(module, LEAN_FLAG, False):
            module.forward = types.MethodType(_lean_forward, module)  # type: ignore[method-assign]
            setattr(module, LEAN_FLAG, True)
        count += 1
    return count


def _plain_adapters(layer: Any) -> list[str] | None:
    """The active vanilla adapters of `layer`, or None when PEFT's forward must run."""
    import torch

    if layer.disable_adapters or layer.merged:
        return None
    names = [name for name in layer.active_adapters if name in layer.lora_A]
    for name in names:
        up = layer.lora_B[name]
        if name in getattr(layer, "lora_variant", {}) or type(up) is not torch.nn.Linear:
            return None
        if up.bias is not None or hasattr(up.weight, "ds_id"):
            return None
        if not isinstance(layer.scaling[name], float | int):
            return None
    return names


def _lean_forward(self: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
    import torch

    adapters = None if args or kwargs else _plain_adapters(self)
    if adapters is None:
        return type(self).forward(self, x, *args, **kwargs)
    # Tokens flattened to rows: addmm is two-dimensional, and an in-place update of a view
    # would make autograd copy the whole output in backward.
    rows = x.reshape(-1, x.shape[-1])
    result = self.base_layer(rows)
    result_dtype = result.dtype
    autocast = torch.is_autocast_enabled(result.device.type)
    # A plain linear's backward does not read its output, so the update may go into it in
    # place; another base layer (quantized, say) might keep it. Autocast does not cast in-place
    # ops.
    in_place = type(self.base_layer) is torch.nn.Linear and not autocast
    for name in adapters:
        down, up = self.lora_A[name], self.lora_B[name]
        low = down(self.lora_dropout[name](self._cast_input_dtype(rows, down.weight.dtype)))
        same_dtype = low.dtype == up.weight.dtype == result.dtype
        if not (same_dtype or autocast):
            result = result + up(low) * self.scaling[name]  # PEFT's arithmetic, dtypes promoted
        elif in_place and same_dtype:
            result.addmm_(low, up.weight.t(), alpha=self.scaling[name])
        else:
            result = torch.addmm(result, low, up.weight.t(), alpha=self.scaling[name])
    return result.to(result_dtype).view(*x.shape[:-1], result.shape[-1])
