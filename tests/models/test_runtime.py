"""`model.dtype` / `model.attn_implementation` resolution, table-driven per machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler_wizard.models.gguf_convert import ModelSourceError
from scaler_wizard.models.loader import load_config, load_model
from scaler_wizard.models.runtime import Accelerator, resolve_runtime
from scaler_wizard.recipe.spec import ModelSpec

CPU = Accelerator(cuda=False, bf16=False, compute_capability=None, installed=frozenset())
AMPERE = Accelerator(cuda=True, bf16=True, compute_capability=(8, 6), installed=frozenset())
AMPERE_FA2 = Accelerator(
    cuda=True, bf16=True, compute_capability=(8, 0), installed=frozenset({"flash_attn"})
)
HOPPER_FA3 = Accelerator(
    cuda=True,
    bf16=True,
    compute_capability=(9, 0),
    installed=frozenset({"flash_attn", "flash_attn_interface"}),
)
TURING = Accelerator(
    cuda=True, bf16=False, compute_capability=(7, 5), installed=frozenset({"flash_attn"})
)


@pytest.mark.parametrize(
    ("machine", "dtype", "attention", "expected"),
    [
        (CPU, "auto", "auto", ("float32", "sdpa")),
        (AMPERE, "auto", "auto", ("bfloat16", "sdpa")),
        (AMPERE_FA2, "auto", "auto", ("bfloat16", "flash_attention_2")),
        (AMPERE_FA2, "float32", "auto", ("float32", "sdpa")),  # flash needs 16-bit
        (HOPPER_FA3, "auto", "auto", ("bfloat16", "flash_attention_3")),
        (TURING, "auto", "auto", ("float32", "sdpa")),  # no bf16, flash-attn 2 needs sm80
        (CPU, "float32", "eager", ("float32", "eager")),
        (AMPERE_FA2, "bfloat16", "flash_attention_2", ("bfloat16", "flash_attention_2")),
    ],
)
def test_resolution(
    machine: Accelerator, dtype: str, attention: str, expected: tuple[str, str]
) -> None:
    spec = ModelSpec(dtype=dtype, attn_implementation=attention)  # type: ignore[arg-type]
    runtime = resolve_runtime(spec, machine)
    assert (runtime.dtype, runtime.attn_implementation) == expected
    assert runtime.reason


@pytest.mark.parametrize(
    ("machine", "dtype", "attention", "message"),
    [
        (CPU, "auto", "flash_attention_2", "needs a CUDA GPU"),
        (AMPERE, "auto", "flash_attention_2", "pip install flash-attn"),
        (AMPERE_FA2, "float32", "flash_attention_2", "model.dtype bfloat16 or float16"),
        (CPU, "bfloat16", "auto", "model.dtype: bfloat16 needs a CUDA GPU"),
    ],
)
def test_impossible_choices_say_why(
    machine: Accelerator, dtype: str, attention: str, message: str
) -> None:
    spec = ModelSpec(dtype=dtype, attn_implementation=attention)  # type: ignore[arg-type]
    with pytest.raises(ModelSourceError, match=message):
        resolve_runtime(spec, machine)


def test_this_machine_and_a_real_load(tiny_model_dir: Path) -> None:
    runtime = resolve_runtime(ModelSpec(attn_implementation="eager"))
    model = load_model(
        tiny_model_dir, load_config(tiny_model_dir), runtime.dtype, runtime.attn_implementation
    )
    assert model.config._attn_implementation == "eager"
    assert str(next(model.parameters()).dtype) == f"torch.{runtime.dtype}"
