"""Find a model's decoder block list and its blocks' output projections (for depth growth)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaler_wizard.growth.base import GrowthError
from scaler_wizard.models.loader import unwrap

# Where common causal LMs keep their block list (Llama/Mistral/Qwen/Gemma, OPT, GPT-2/GPT-J/Falcon,
# MPT, GPT-NeoX, multimodal wrappers); anything else falls back to the generic search below.
KNOWN_PATHS = (
    "model.layers",
    "model.decoder.layers",
    "model.language_model.layers",
    "transformer.h",
    "transformer.layers",
    "transformer.blocks",
    "gpt_neox.layers",
    "layers",
)
# Names of the projection that writes a sub-module's result back into the residual stream.
OUTPUT_NAMES = ("o_proj", "down_proj", "out_proj", "c_proj", "dense_4h_to_h", "fc2", "wo", "w2")
ATTENTION_HINTS = ("attn", "attention")
MLP_HINTS = ("mlp", "feed_forward", "ffn")
STRATEGY_PATH = "growth.strategy"


@dataclass
class DecoderLayers:
    """The block list, and the module + attribute holding it (so it can be replaced)."""

    owner: Any
    attribute: str
    path: str
    layers: Any  # torch.nn.ModuleList

    def replace(self, blocks: list[Any]) -> None:
        from torch import nn

        self.layers = nn.ModuleList(blocks)
        setattr(self.owner, self.attribute, self.layers)


def find_decoder_layers(model: Any) -> DecoderLayers:
    """The model's list of decoder blocks; GrowthError when there is none we can recognise."""
    from torch import nn

    model = unwrap(model)
    for path in KNOWN_PATHS:
        owner_path, _, attribute = path.rpartition(".")
        try:
            owner = model.get_submodule(owner_path) if owner_path else model
        except AttributeError:
            continue
        layers = getattr(owner, attribute, None)
        if isinstance(layers, nn.ModuleList) and len(layers) > 0:
            return DecoderLayers(owner, attribute, path, layers)
    # Generic fallback: the one ModuleList as long as the config says the model is deep.
    depth = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    found = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.ModuleList) and depth and len(module) == depth
    ]
    if len(found) == 1:
        name, layers = found[0]
        owner_path, _, attribute = name.rpartition(".")
        owner = model.get_submodule(owner_path) if owner_path else model
        return DecoderLayers(owner, attribute, name, layers)
    raise GrowthError(
        STRATEGY_PATH,
        f"{type(model).__name__} has no recognisable list of decoder blocks "
        f"(looked for {', '.join(KNOWN_PATHS)} and for a single ModuleList of "
        f"config.num_hidden_layers={depth} blocks)",
    )


def output_projections(block: Any) -> dict[str, Any]:
    """Qualified name → module for the attention and MLP output projections of one block.

    Zeroing these makes a pre-norm block the identity: both sub-layers then add 0 to the
    residual stream. GrowthError when either sub-module or its projection cannot be found.
    """
    found: dict[str, Any] = {}
    for kind, hints in (("attention", ATTENTION_HINTS), ("MLP", MLP_HINTS)):
        # Norm children are skipped: `post_attention_layernorm` is not the attention.
        children = [
            (n, m)
            for n, m in block.named_children()
            if any(h in n.lower() for h in hints) and "norm" not in n.lower()
        ]
        if not children:
            raise GrowthError(
                STRATEGY_PATH,
                f"{type(block).__name__} has no {kind} sub-module (no child named like "
                f"{'/'.join(hints)})",
            )
        child_name, child = children[0]
        name, module = _output_projection(child)
        if module is None:
            raise GrowthError(
                STRATEGY_PATH,
                f"cannot find the output projection of {type(block).__name__}.{child_name} "
                f"(expected one of {', '.join(OUTPUT_NAMES)} or a Linear layer)",
            )
        found[f"{child_name}.{name}"] = module
    return found


def _output_projection(sub: Any) -> tuple[str, Any]:
    from torch import nn

    named = list(sub.named_modules())
    for wanted in OUTPUT_NAMES:
        for name, module in named:
            if name.rpartition(".")[2] == wanted and hasattr(module, "weight"):
                return name, module
    # No known name (e.g. `dense` in GPT-NeoX/Phi attention, which is also an input projection
    # elsewhere): the last Linear registered is the usual output. A wrong guess is caught by the
    # caller's logit check, so guessing cannot silently change the function.
    linears = [(n, m) for n, m in named if isinstance(m, nn.Linear)]
    return linears[-1] if linears else ("", None)


def renumber(layers: Any) -> None:
    """Set every `layer_idx` to the block's position, so each block gets its own KV-cache slot."""
    for index, block in enumerate(layers):
        for module in block.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = index


def set_depth(model: Any, sources: list[int]) -> None:
    """Config follows a new block list; `sources[i]` is the old index block i was copied from."""
    config = unwrap(model).config
    layer_types = getattr(config, "layer_types", None)
    if isinstance(layer_types, list) and len(layer_types) >= max(sources, default=0) + 1:
        # Caches and masks are built per layer type; the copy keeps its source's type.
        config.layer_types = [layer_types[i] for i in sources]
    config.num_hidden_layers = len(sources)


def probe_logits(model: Any) -> Any:
    """Logits of a fixed short input, in eval mode (no dropout), to compare before and after."""
    import torch

    vocab = int(getattr(unwrap(model).config, "vocab_size", 16) or 16)
    device = next(model.parameters()).device
    ids = torch.arange(min(vocab, 16), device=device).unsqueeze(0)
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(input_ids=ids).logits.float()
    finally:
        model.train(training)
