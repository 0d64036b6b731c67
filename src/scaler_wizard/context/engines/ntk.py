"""`ntk`: static NTK-aware scaling (bloc97): a larger base, rope_type stays `default`.

b' = b · s^(d/(d−2)) stretches the lowest frequency by exactly s while leaving the highest
one almost untouched (YaRN appendix A.1).
"""

from __future__ import annotations

from scaler_wizard.context.base import NoOptions, RopeGeometry, RopeUpdate, scale_of

SUMMARY = "Static NTK-aware: rope_theta × s^(d/(d-2)); training-free, worse than PI when tuned."


def ntk_theta(rope_theta: float, rotary_dim: int, s: float) -> float:
    return float(rope_theta * s ** (rotary_dim / (rotary_dim - 2)))


def ntk_engine(geometry: RopeGeometry, target_length: int, options: NoOptions) -> RopeUpdate:
    s = scale_of(geometry, target_length)
    theta = ntk_theta(geometry.rope_theta, geometry.rotary_dim, s)
    rope = {**geometry.unscaled(), "rope_type": "default", "rope_theta": theta}
    return RopeUpdate(
        rope=rope,
        max_position_embeddings=target_length,
        factor=s,
        notes=(
            f"rope_theta {geometry.rope_theta:g} → {theta:.6g} "
            f"(b·s^(d/(d−2)) with s={s:g}, d={geometry.rotary_dim})",
        ),
    )
