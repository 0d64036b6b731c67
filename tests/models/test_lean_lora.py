"""The fused LoRA update: PEFT's values and gradients, PEFT's forward wherever it must run."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from peft import LoraConfig, get_peft_model

from scaler_wizard.models.lean_lora import enable_lean_lora
from tiny_models import build_tiny_model

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def lora_model(tokenizer: Any, **options: Any) -> Any:
    model = build_tiny_model(tokenizer)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, **options)
    peft_model = get_peft_model(model, config)
    torch.manual_seed(1)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:  # PEFT starts B at zero: make the update count
            torch.nn.init.normal_(param, std=0.1)
    return peft_model


def loss_and_grads(model: Any, ids: torch.Tensor) -> tuple[torch.Tensor, list[Any]]:
    model.train()
    torch.manual_seed(2)  # the same dropout masks for both
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    return loss.detach(), [p.grad for p in model.parameters() if p.requires_grad]


def assert_trains_alike(lean: Any, plain: Any, tokenizer: Any) -> None:
    ids = torch.randint(3, len(tokenizer), (2, 12), generator=torch.Generator().manual_seed(0))
    lean_loss, lean_grads = loss_and_grads(lean, ids)
    plain_loss, plain_grads = loss_and_grads(plain, ids)
    torch.testing.assert_close(lean_loss, plain_loss)
    for a, b in zip(lean_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "options",
    [{}, {"lora_dropout": 0.1}, {"use_rslora": True}],
    ids=["plain", "dropout", "rslora"],
)
def test_same_loss_and_gradients_as_peft(tiny_tokenizer: Any, options: dict[str, Any]) -> None:
    lean = lora_model(tiny_tokenizer, **options)
    assert enable_lean_lora(lean) == 7 * lean.config.num_hidden_layers
    assert enable_lean_lora(lean) == 7 * lean.config.num_hidden_layers  # idempotent
    assert_trains_alike(lean, lora_model(tiny_tokenizer, **options), tiny_tokenizer)


def test_gradient_checkpointing_recomputes_the_same(tiny_tokenizer: Any) -> None:
    lean = lora_model(tiny_tokenizer)
    enable_lean_lora(lean)
    lean.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lean.enable_input_require_grads()
    assert_trains_alike(lean, lora_model(tiny_tokenizer), tiny_tokenizer)


def test_disabled_merged_and_variant_adapters_run_peft_forward(tiny_tokenizer: Any) -> None:
    ids = torch.randint(3, len(tiny_tokenizer), (1, 10), generator=torch.Generator().manual_seed(0))
    lean = lora_model(tiny_tokenizer)
    enable_lean_lora(lean)
    lean.eval()
    with torch.no_grad():
        adapted = lean(input_ids=ids).logits
        with lean.disable_adapter():
            base = lean(input_ids=ids).logits
        assert not torch.allclose(adapted, base)  # the update counts
        torch.testing.assert_close(base, build_tiny_model(tiny_tokenizer)(input_ids=ids).logits)
        lean.merge_adapter()
        torch.testing.assert_close(lean(input_ids=ids).logits, adapted, rtol=1e-4, atol=1e-5)
        lean.unmerge_adapter()
        torch.testing.assert_close(lean(input_ids=ids).logits, adapted)

    dora = lora_model(tiny_tokenizer, use_dora=True)
    ids2 = torch.randint(
        3, len(tiny_tokenizer), (2, 12), generator=torch.Generator().manual_seed(0)
    )
    plain_loss, _ = loss_and_grads(lora_model(tiny_tokenizer, use_dora=True), ids2)
    enable_lean_lora(dora)
    lean_loss, _ = loss_and_grads(dora, ids2)
    torch.testing.assert_close(lean_loss, plain_loss)


def test_a_bf16_base_with_float32_adapters_adds_as_peft_does(tiny_tokenizer: Any) -> None:
    ids = torch.randint(3, len(tiny_tokenizer), (1, 10), generator=torch.Generator().manual_seed(0))
    models = []
    for lean in (False, True):
        model = lora_model(tiny_tokenizer)
        for name, param in model.named_parameters():
            if "lora_" not in name:
                param.data = param.data.to(torch.bfloat16)
        if lean:
            enable_lean_lora(model)
        models.append(model.eval())
    with torch.no_grad():
        plain, lean_out = (m(input_ids=ids).logits for m in models)
    assert lean_out.dtype == torch.bfloat16
    torch.testing.assert_close(lean_out, plain)
