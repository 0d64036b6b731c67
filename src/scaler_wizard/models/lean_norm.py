"""RMSNorm layers run as torch's `rms_norm` instead of the model's six elementwise ops.

A Llama-family RMSNorm as transformers writes it (`weight * x * rsqrt(mean(x²) + eps)`, computed
in float32) runs as separate power, mean, add, rsqrt and two multiplications, each a pass over
the activations, and as many again in backward. `torch.nn.functional.rms_norm` computes the same
with fewer passes (61 norms a pass for SmolLM2-135M; the whole step's gain is measured with the
other lean kernels by `benchmarks/step_profile.py`).

Norm classes differ between families (Gemma scales by `1 + weight`, some keep no weight), so a
norm is switched only after a probe shows that the fused kernel gives the module's own output on
its own weights; any other norm is left alone.
"""

from __future__ import annotations

import functools
import types
from typing import Any

LEAN_FLAG = "_scaler_wizard_lean_norm"
# Relative difference allowed between the module's own forward and the fused kernel in the probe:
# float rounding, far below what a different formula (1 + weight, no mean) produces.
_PROBE_TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


def enable_lean_norms(model: Any) -> int:
    """Run every RMSNorm of `model` that the fused kernel reproduces as that kernel; returns how
    many run fused. Idempotent."""
    from scaler_wizard.models.loader import unwrap

    count = 0
    for module in unwrap(model).modules():
        if getattr(module, LEAN_FLAG, False):
            count += 1
            continue
        eps = _epsilon(module)
        if eps is None or not _reproduces(module, eps):
            continue
        module.forward = types.MethodType(functools.partial(_lean_forward, eps=eps), module)
        setattr(module, LEAN_FLAG, True)
        count += 1
    return count


def _epsilon(module: Any) -> float | None:
    """The epsilon of a module that looks like an RMSNorm with a vector weight, else None."""
    if not type(module).__name__.endswith("RMSNorm"):
        return None
    weight = getattr(module, "weight", None)
    if weight is None or weight.dim() != 1:
        return None
    eps = getattr(module, "variance_epsilon", getattr(module, "eps", None))
    return float(eps) if isinstance(eps, float | int) else None


def _reproduces(module: Any, eps: float) -> bool:
    """Whether the fused kernel gives the module's output on a random input."""
    import torch

    weight = module.weight
    tolerance = _PROBE_TOLERANCE.get(str(weight.dtype).removeprefix("torch."))
    if tolerance is None or weight.device.type == "meta":
        return False  # half precision rounds differently; a meta weight cannot be probed
    generator = torch.Generator(device="cpu").manual_seed(0)
    probe = torch.randn(3, weight.numel(), generator=generator, dtype=weight.dtype)
    probe = probe.to(weight.device)
    with torch.no_grad():
        own = module(probe)
        fused = torch.nn.functional.rms_norm(probe, (weight.numel(),), weight, eps)
    if own.shape != fused.shape or own.dtype != fused.dtype:
        return False
    scale = float(own.abs().max()) or 1.0
    return float((own - fused).abs().max()) <= tolerance * scale


def _lean_forward(self: Any, hidden_states: Any, eps: float) -> Any:
    """The norm as the fused kernel, with the epsilon the probe was run with."""
    import torch

    if hidden_states.dtype != self.weight.dtype:
        # Mixed precision (a bf16 activation, a float32 weight): the module's own casts decide.
        return type(self).forward(self, hidden_states)
    return torch.nn.functional.rms_norm(hidden_states, (self.weight.numel(),), self.weight, eps)
