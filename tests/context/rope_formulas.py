"""Independent numpy versions of the published RoPE scaling formulas (reference §1.3, §2).

Written from the papers / reference text, not from transformers, so the tests compare two
implementations rather than one with itself.
"""

from __future__ import annotations

import math

import numpy as np


def default_inv_freq(base: float, d: int) -> np.ndarray:
    """θ_i = b^(−2i/d), i = 0 … d/2−1."""
    return 1.0 / base ** (np.arange(0, d, 2, dtype=np.float64) / d)


def linear_inv_freq(base: float, d: int, s: float) -> np.ndarray:
    """Position Interpolation: m → m/s, i.e. θ_i / s."""
    return default_inv_freq(base, d) / s


def ntk_inv_freq(base: float, d: int, s: float) -> np.ndarray:
    """NTK-aware: b' = b · s^(d/(d−2))."""
    return default_inv_freq(base * s ** (d / (d - 2)), d)


def dynamic_inv_freq(base: float, d: int, factor: float, length: int, seq_len: int) -> np.ndarray:
    """transformers' Dynamic NTK: b' = b·((f·ℓ/L) − (f−1))^(d/(d−2)), ℓ = max(seq_len, L)."""
    ell = max(seq_len, length)
    return default_inv_freq(base * ((factor * ell / length) - (factor - 1)) ** (d / (d - 2)), d)


def yarn_correction_range(
    base: float, d: int, length: int, beta_fast: float = 32, beta_slow: float = 1
) -> tuple[int, int]:
    """Pair indices where the wavelength fits beta_fast resp. beta_slow times into L."""

    def dim(rotations: float) -> float:
        return d * math.log(length / (rotations * 2 * math.pi)) / (2 * math.log(base))

    return max(math.floor(dim(beta_fast)), 0), min(math.ceil(dim(beta_slow)), d - 1)


def yarn_attention_factor(s: float) -> float:
    """√(1/t) = 0.1·ln(s) + 1 (YaRN eq. 22)."""
    return 0.1 * math.log(s) + 1.0


def yarn_inv_freq(
    base: float, d: int, length: int, s: float, beta_fast: float = 32, beta_slow: float = 1
) -> np.ndarray:
    """NTK-by-parts: pairs below `low` keep θ_i, pairs above `high` get θ_i/s, linear between."""
    low, high = yarn_correction_range(base, d, length, beta_fast, beta_slow)
    high_f = high + 0.001 if low == high else float(high)
    ramp = np.clip((np.arange(d // 2, dtype=np.float64) - low) / (high_f - low), 0, 1)
    theta = default_inv_freq(base, d)
    return theta / s * ramp + theta * (1 - ramp)


def llama3_inv_freq(
    base: float, d: int, length: int, s: float, low: float = 1.0, high: float = 4.0
) -> np.ndarray:
    """Llama 3.1: wavelength < L/high kept, > L/low divided by s, smooth blend between."""
    theta = default_inv_freq(base, d)
    wavelen = 2 * math.pi / theta
    out = np.empty_like(theta)
    for i, (t, w) in enumerate(zip(theta, wavelen, strict=True)):
        if w < length / high:
            out[i] = t
        elif w > length / low:
            out[i] = t / s
        else:
            smooth = (length / w - low) / (high - low)
            out[i] = (1 - smooth) * t / s + smooth * t
    return out
