"""Self-Extend (Jin et al. 2024, "LLM Maybe LongLM"): a training-free attention patch.

Bi-level attention for RoPE decoders: a query sees keys closer than the neighbour window `w`
with their true positions, and farther keys with grouped positions (key ⌊j/G⌋, query
⌊i/G⌋ + w − ⌊w/G⌋, shifted so that the two regions meet at distance w). Both score matrices
are computed and merged by the causal distance before one softmax, so every relative
position the model sees stays below about w + (T − w)/G, inside its trained range.

This cannot be written into `rope_parameters`: it replaces each attention module's forward.
The chosen G/w live in the config (`self_extend_group_size`, `self_extend_window`), so a saved
model tells its loader to call `patch_from_config` again.

Cost: eager-style, two score matrices per query chunk over the keys it can see, i.e.
O(heads · chunk · T) memory (chunk = 512 queries) and O(T²) time; no fused kernel. Keys
are cached *unrotated* and re-rotated (once per forward) with both position sets, which
keeps decode positions identical to a full forward (the grouping of a key never depends on
the step that produced it).
Positions are token indices in the cache (0, 1, ...): `position_ids` are ignored, so a
left-padded batch sees its tokens shifted by the pad count (relative distances are kept).
A sliding window (Mistral, Qwen2) is not applied: the Self-Extend README disables it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

GROUP_ATTR = "self_extend_group_size"
WINDOW_ATTR = "self_extend_window"
SUPPORTED_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2"})  # same q/k/v/o attention
UNSUPPORTED_ROPE = frozenset({"dynamic", "longrope"})  # their cos/sin depend on input length
QUERY_CHUNK = 512
_MARK = "_self_extend_settings"


@dataclass(frozen=True)
class SelfExtendSettings:
    group_size: int
    window: int
    query_chunk: int = QUERY_CHUNK


def apply_self_extend(
    model: Any, group_size: int, window: int, *, query_chunk: int = QUERY_CHUNK
) -> int:
    """Patch every attention layer of a loaded model in place; returns how many were patched.

    Re-applying replaces the settings. Also records G/w in `model.config` so that a saved
    model carries them. Generate from a fresh cache after patching: a cache filled by the
    unpatched model holds rotated keys.
    """
    if group_size < 1 or window < 1 or query_chunk < 1:
        raise ValueError("self-extend group_size, window and query_chunk must be ≥ 1")
    config = model.config
    model_type = getattr(config, "model_type", "")
    if model_type not in SUPPORTED_MODEL_TYPES:
        supported = ", ".join(sorted(SUPPORTED_MODEL_TYPES))
        raise ValueError(f"self-extend supports model types {supported}, not {model_type!r}")
    rope_type = (getattr(config, "rope_parameters", None) or {}).get("rope_type", "default")
    if rope_type in UNSUPPORTED_ROPE:
        raise ValueError(f"self-extend cannot be combined with rope_type {rope_type!r}")
    rotary = _rotary_module(model)
    settings = SelfExtendSettings(group_size, window, query_chunk)
    layers = _attention_modules(model)
    for module in layers:
        # An instance attribute shadows the class forward; removing it restores the original.
        module.forward = partial(_self_extend_forward, module, settings, rotary)
        setattr(module, _MARK, settings)
    setattr(config, GROUP_ATTR, group_size)
    setattr(config, WINDOW_ATTR, window)
    return len(layers)


def remove_self_extend(model: Any) -> int:
    """Undo `apply_self_extend` (forward and config record); returns layers restored."""
    restored = 0
    for module in _attention_modules(model):
        if module.__dict__.pop(_MARK, None) is not None:
            module.__dict__.pop("forward", None)
            restored += 1
    for name in (GROUP_ATTR, WINDOW_ATTR):
        if hasattr(model.config, name):
            delattr(model.config, name)
    return restored


def patch_from_config(model: Any) -> SelfExtendSettings | None:
    """Apply the patch a config asks for (set by a context plan or a saved model), if any."""
    group = getattr(model.config, GROUP_ATTR, None)
    window = getattr(model.config, WINDOW_ATTR, None)
    if group is None or window is None:
        return None
    apply_self_extend(model, int(group), int(window))
    return self_extend_settings(model)


def self_extend_settings(model: Any) -> SelfExtendSettings | None:
    """The settings a model is patched with, or None when it is not patched."""
    for module in _attention_modules(model):
        settings: SelfExtendSettings | None = getattr(module, _MARK, None)
        return settings
    return None


def grouped_positions(
    query_pos: torch.Tensor, key_pos: torch.Tensor, group_size: int, window: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grouped (query, key) positions: the shift makes distance w map to about w."""
    shift = window - window // group_size
    return query_pos // group_size + shift, key_pos // group_size


def _attention_modules(model: Any) -> list[Any]:
    return [
        module
        for module in model.modules()
        if all(hasattr(module, n) for n in ("q_proj", "k_proj", "v_proj", "o_proj", "layer_idx"))
    ]


def _rotary_module(model: Any) -> Any:
    for name, module in model.named_modules():
        if name.split(".")[-1] == "rotary_emb":
            return module
    raise ValueError("self-extend found no rotary embedding (`rotary_emb`) in the model")


def _self_extend_forward(
    module: Any,
    settings: SelfExtendSettings,
    rotary: Any,
    hidden_states: torch.Tensor,
    position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
    attention_mask: torch.Tensor | None = None,
    cache: Any = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Drop-in for the Llama-family attention forward; `position_embeddings` go unused
    because both position sets are rotated here."""
    import torch

    cache = cache if cache is not None else kwargs.get("past_key_values")
    input_shape = hidden_states.shape[:-1]
    hidden_shape = (*input_shape, -1, module.head_dim)
    query = module.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)
    key = module.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)
    value = module.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)
    past = 0
    if cache is not None:
        past = cache.get_seq_length(module.layer_idx)
        key, value = cache.update(key, value, module.layer_idx)  # unrotated keys are cached
    device = query.device
    query_pos = torch.arange(past, past + query.shape[-2], device=device)
    key_pos = torch.arange(key.shape[-2], device=device)
    n_rep = module.num_key_value_groups
    key = key.repeat_interleave(n_rep, dim=1) if n_rep > 1 else key
    value = value.repeat_interleave(n_rep, dim=1) if n_rep > 1 else value
    dropout = module.attention_dropout if module.training else 0.0
    # Keys are rotated once per forward with both position sets, not once per query chunk.
    group_q, group_k = grouped_positions(query_pos, key_pos, settings.group_size, settings.window)
    keys = (_rotate(key, key_pos, rotary), _rotate(key, group_k, rotary))
    chunks = []
    for start in range(0, query.shape[-2], settings.query_chunk):
        rows = slice(start, start + settings.query_chunk)
        chunk_pos = query_pos[rows]
        visible = int(chunk_pos[-1]) + 1  # causal: later keys are masked anyway, skip them
        mask = None if attention_mask is None else attention_mask[:, :, rows, :visible]
        chunk = query[:, :, rows]
        queries = (_rotate(chunk, chunk_pos, rotary), _rotate(chunk, group_q[rows], rotary))
        chunks.append(
            _bi_level_attention(
                queries, (keys[0][:, :, :visible], keys[1][:, :, :visible]),
                value[:, :, :visible], chunk_pos, key_pos[:visible], mask,
                settings.window, module.scaling, dropout,
            )
        )  # fmt: skip
    output = torch.cat(chunks, dim=2).transpose(1, 2).reshape(*input_shape, -1).contiguous()
    return module.o_proj(output), None


def _bi_level_attention(
    queries: tuple[torch.Tensor, torch.Tensor],
    keys: tuple[torch.Tensor, torch.Tensor],
    value: torch.Tensor,
    query_pos: torch.Tensor,
    key_pos: torch.Tensor,
    mask: torch.Tensor | None,
    window: int,
    scaling: float,
    dropout: float,
) -> torch.Tensor:
    """softmax(where(i − j < w, neighbour scores, grouped scores) + mask) · V for one chunk.

    `queries` and `keys` are (rotated at true positions, rotated at grouped positions)."""
    import torch

    neighbour = queries[0] @ keys[0].transpose(2, 3)
    distance = query_pos[:, None] - key_pos[None, :]
    scores = neighbour
    if bool((distance >= window).any()):  # else every key is a neighbour: skip
        grouped = queries[1] @ keys[1].transpose(2, 3)
        scores = torch.where(distance < window, neighbour, grouped)
    scores = scores * scaling
    lowest = torch.finfo(scores.dtype).min  # finite, so a fully padded row cannot give NaN
    if mask is not None and mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask, lowest)
    elif mask is not None:
        scores = scores + mask
    scores = scores.masked_fill(distance < 0, lowest)  # causal, also when no mask was passed
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=dropout > 0)
    return weights @ value


def _rotate(x: torch.Tensor, positions: torch.Tensor, rotary: Any) -> torch.Tensor:
    """RoPE at arbitrary positions, using the model's own rotary module (θ, scaling, dtype)."""
    import torch

    cos, sin = rotary(x, positions[None])
    cos, sin = cos[:, None], sin[:, None]
    half = x.shape[-1] // 2
    rotated_half = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    rotated: torch.Tensor = x * cos + rotated_half * sin
    return rotated
