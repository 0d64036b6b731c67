"""RoPE settings as llama.cpp reads them from GGUF metadata: a pure mapping from transformers' dict.

| transformers `rope_type` | GGUF                                                              |
|--------------------------|-------------------------------------------------------------------|
| default (incl. NTK θ)    | `rope.freq_base` only                                             |
| linear                   | `rope.scaling.type=linear`, `rope.scaling.factor`                 |
| yarn                     | type yarn, factor, `original_context_length`, `yarn_beta_fast/slow`, |
|                          | `yarn_attn_factor` only when the recipe set `attention_factor`    |
| llama3                   | a `rope_freqs` tensor of per-pair wavelength divisors (Llama only) |
| dynamic, longrope, ...   | refused: llama.cpp has no equivalent                              |

The keys and the `rope_freqs` formula follow llama.cpp's `convert_hf_to_gguf.py`, so a file from
here loads exactly like one converted there. Self-Extend leaves RoPE alone; llama.cpp applies it
only when asked on the command line, which the caveats say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# Config attributes the `self_extend` context engine writes (scaler_wizard.context.self_extend).
SELF_EXTEND_GROUP_ATTR = "self_extend_group_size"
SELF_EXTEND_WINDOW_ATTR = "self_extend_window"
# yarn keys llama.cpp has no field for: a value other than transformers' default changes the maths.
_YARN_DEFAULTS = {"truncate": True, "mscale": None, "mscale_all_dim": None}


class GgufExportError(ValueError):
    """A model the GGUF export cannot write faithfully; the message says why and what to do."""


@dataclass(frozen=True)
class GgufRope:
    """Everything llama.cpp needs to rotate positions like the transformers model does."""

    freq_base: float
    dimension_count: int
    context_length: int  # `{arch}.context_length`: the grown window
    serve_context: int  # what a runtime without extra flags should use (Ollama's num_ctx)
    scaling_type: str | None = None  # "linear" | "yarn"
    factor: float | None = None
    original_context: int | None = None
    yarn_beta_fast: float | None = None
    yarn_beta_slow: float | None = None
    yarn_attn_factor: float | None = None
    rope_freqs: tuple[float, ...] | None = None  # llama3: wavelength divisor per rotated pair
    llama_cpp_flags: tuple[str, ...] = ()  # needed at run time (Self-Extend)
    caveats: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        """A JSON-ready record for the manifest: what was written (caveats are listed apart)."""
        return {
            "freq_base": self.freq_base,
            "context_length": self.context_length,
            "scaling_type": self.scaling_type or ("rope_freqs" if self.rope_freqs else "none"),
            "factor": self.factor,
            "original_context_length": self.original_context,
            "llama_cpp_flags": list(self.llama_cpp_flags),
        }


def plan_gguf_rope(
    rope: Mapping[str, Any],
    *,
    rotary_dim: int,
    max_positions: int,
    native_context: int,
    arch: str,
    self_extend: tuple[int, int] | None = None,
) -> GgufRope:
    """Map a transformers RoPE dict (`models.hf_compat.read_rope`) onto GGUF, or refuse."""
    rope_type = str(rope.get("rope_type") or rope.get("type") or "default")
    base = GgufRope(
        freq_base=float(rope["rope_theta"]),
        dimension_count=rotary_dim,
        context_length=max_positions,
        serve_context=max_positions,
    )
    if rope_type == "default":
        planned = base
    elif rope_type == "linear":
        planned = replace(base, scaling_type="linear", factor=float(rope["factor"]))
    elif rope_type == "yarn":
        planned = _yarn(base, rope, native_context)
    elif rope_type == "llama3":
        if arch != "llama":
            raise GgufExportError(
                f"llama3 RoPE scaling needs llama.cpp's rope_freqs tensor, which only its "
                f"'llama' architecture reads; this model exports as {arch!r}"
            )
        planned = replace(base, rope_freqs=llama3_rope_freqs(rope, rotary_dim))
    elif rope_type == "dynamic":
        raise GgufExportError(
            "dynamic NTK RoPE cannot be exported to GGUF: llama.cpp has no length-dependent "
            "RoPE base, so positions beyond the native context would be wrong. Use "
            "context.engine 'yarn' (also training-free) for a model that runs in llama.cpp"
        )
    else:
        raise GgufExportError(
            f"RoPE type {rope_type!r} has no GGUF equivalent for the {arch!r} architecture; "
            "supported: default, linear, yarn, llama3"
        )
    return _self_extend(planned, self_extend, native_context) if self_extend else planned


def llama3_rope_freqs(rope: Mapping[str, Any], rotary_dim: int) -> tuple[float, ...]:
    """Llama 3.1's piecewise scaling as llama.cpp applies it: θᵢ / rope_freqs[i].

    transformers multiplies each inverse frequency by 1/factor (long wavelengths), 1 (short
    ones) or a smooth blend; llama.cpp divides by the reciprocal, stored per rotated pair.
    """
    theta = float(rope["rope_theta"])
    factor = float(rope["factor"])
    low = float(rope.get("low_freq_factor", 1.0))
    high = float(rope.get("high_freq_factor", 4.0))
    original = float(rope["original_max_position_embeddings"])
    low_wavelength, high_wavelength = original / low, original / high
    divisors = []
    for i in range(0, rotary_dim, 2):
        wavelength = 2 * math.pi * theta ** (i / rotary_dim)
        if wavelength < high_wavelength:
            divisors.append(1.0)
        elif wavelength > low_wavelength:
            divisors.append(factor)
        else:
            smooth = (original / wavelength - low) / (high - low)
            divisors.append(1 / ((1 - smooth) / factor + smooth))
    return tuple(divisors)


def rope_from_gguf(metadata: Mapping[str, Any], arch: str) -> dict[str, Any]:
    """The transformers RoPE dict a GGUF's metadata describes (the inverse of the export).

    transformers' own GGUF loader keeps only `rope.freq_base` for Llama-family files, so a
    reader that wants the scaling back (a round trip, a loader) rebuilds it with this.
    """

    def key(name: str) -> Any:
        return metadata.get(f"{arch}.rope.{name}")

    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": float(key("freq_base"))}
    scaling = key("scaling.type")
    if scaling in ("linear", "yarn"):
        rope.update(rope_type=scaling, factor=float(key("scaling.factor")))
    if scaling == "yarn":
        rope["original_max_position_embeddings"] = int(key("scaling.original_context_length"))
        for gguf_name, hf_name in (
            ("yarn_beta_fast", "beta_fast"),
            ("yarn_beta_slow", "beta_slow"),
            ("yarn_attn_factor", "attention_factor"),
        ):
            if key(f"scaling.{gguf_name}") is not None:
                rope[hf_name] = float(key(f"scaling.{gguf_name}"))
    return rope


def _yarn(base: GgufRope, rope: Mapping[str, Any], native_context: int) -> GgufRope:
    for name, default in _YARN_DEFAULTS.items():
        if rope.get(name, default) != default:
            raise GgufExportError(
                f"yarn with {name}={rope[name]!r} has no GGUF key for the llama.cpp "
                "architectures exported here; only transformers' defaults can be carried over"
            )
    attention = rope.get("attention_factor")
    factor = float(rope["factor"])
    caveats: tuple[str, ...] = ()
    if attention is not None and not math.isclose(attention, 0.1 * math.log(factor) + 1):
        caveats = (
            f"yarn attention_factor {attention:g} is written as rope.scaling.yarn_attn_factor, "
            "but llama.cpp's llama/qwen2 graphs may ignore it and apply their built-in "
            "0.1·ln(s)+1; long-context outputs may differ from transformers",
        )
    return replace(
        base,
        scaling_type="yarn",
        factor=factor,
        original_context=int(rope.get("original_max_position_embeddings") or native_context),
        yarn_beta_fast=_optional_float(rope.get("beta_fast")),
        yarn_beta_slow=_optional_float(rope.get("beta_slow")),
        yarn_attn_factor=_optional_float(attention),
        caveats=caveats,
    )


def _self_extend(planned: GgufRope, settings: tuple[int, int], native: int) -> GgufRope:
    group, window = settings
    flags = (f"--grp-attn-n {group}", f"--grp-attn-w {window}")
    caveat = (
        f"Self-Extend (G={group}, w={window}) is an attention patch, not RoPE metadata: "
        f"llama.cpp's llama-cli applies it only with `{' '.join(flags)}`; Ollama cannot, so "
        f"its num_ctx stays at the native {native} tokens"
    )
    return replace(
        planned, serve_context=native, llama_cpp_flags=flags, caveats=(*planned.caveats, caveat)
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
