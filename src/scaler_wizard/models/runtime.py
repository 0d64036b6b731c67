"""Resolve `model.dtype` and `model.attn_implementation` ('auto' included) for this machine."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from pydantic import BaseModel

from scaler_wizard.models.gguf_convert import ModelSourceError
from scaler_wizard.recipe.spec import ModelSpec

FLASH_PACKAGES = {"flash_attention_2": "flash_attn", "flash_attention_3": "flash_attn_interface"}
INSTALL_HINTS = {
    "flash_attn": "pip install flash-attn",
    "flash_attn_interface": "FlashAttention-3, built from its 'hopper' folder",
}
HALF = ("bfloat16", "float16")


@dataclass(frozen=True)
class Accelerator:
    """What the choice depends on; `detect()` reads it from torch and the installed packages."""

    cuda: bool
    bf16: bool
    compute_capability: tuple[int, int] | None
    installed: frozenset[str]

    @classmethod
    def detect(cls) -> Accelerator:
        import torch

        cuda = torch.cuda.is_available()
        return cls(
            cuda=cuda,
            bf16=cuda and torch.cuda.is_bf16_supported(),
            compute_capability=torch.cuda.get_device_capability(0) if cuda else None,
            installed=frozenset(
                name for name in FLASH_PACKAGES.values() if importlib.util.find_spec(name)
            ),
        )


class ModelRuntime(BaseModel):
    """What the weights are loaded with; recorded in the plan."""

    dtype: str = "float32"
    attn_implementation: str = "sdpa"
    reason: str = "float32, SDPA attention"


def resolve_runtime(spec: ModelSpec, machine: Accelerator | None = None) -> ModelRuntime:
    """The dtype and attention kernel to load with; ModelSourceError for an impossible choice."""
    machine = machine or Accelerator.detect()
    dtype = spec.dtype
    if dtype == "auto":
        dtype = "bfloat16" if machine.bf16 else "float32"
    elif dtype in HALF and not machine.cuda:
        # CPU kernels for 16-bit training are slow or missing; say so instead of crawling.
        raise ModelSourceError(
            f"model.dtype: {dtype} needs a CUDA GPU here; use 'auto' or 'float32' on a CPU"
        )
    attention: str = spec.attn_implementation
    if attention == "auto":
        attention, why = _auto_attention(machine, dtype)
    else:
        why = f"{attention} as the recipe asks"
        package = FLASH_PACKAGES.get(attention)
        if package is not None:
            _check_flash(attention, package, machine, dtype)
    return ModelRuntime(dtype=dtype, attn_implementation=attention, reason=f"{dtype}, {why}")


def _auto_attention(machine: Accelerator, dtype: str) -> tuple[str, str]:
    if not machine.cuda:
        return "sdpa", "SDPA attention (no CUDA GPU)"
    if dtype not in HALF:
        return "sdpa", "SDPA attention (FlashAttention needs a 16-bit dtype)"
    hopper = (machine.compute_capability or (0, 0)) >= (9, 0)
    if hopper and "flash_attn_interface" in machine.installed:
        return "flash_attention_3", "FlashAttention-3 (Hopper GPU, flash_attn_interface installed)"
    if "flash_attn" in machine.installed and (machine.compute_capability or (0, 0)) >= (8, 0):
        return "flash_attention_2", "FlashAttention-2 (installed, Ampere or newer)"
    return "sdpa", "SDPA attention (FlashAttention not installed)"


def _check_flash(attention: str, package: str, machine: Accelerator, dtype: str) -> None:
    if not machine.cuda:
        problem = "needs a CUDA GPU"
    elif package not in machine.installed:
        problem = f"needs the '{package}' module ({INSTALL_HINTS[package]})"
    elif dtype not in HALF:
        problem = "needs model.dtype bfloat16 or float16"
    else:
        return
    raise ModelSourceError(f"model.attn_implementation: {attention} {problem}; or use 'auto'")
