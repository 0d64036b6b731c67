"""Knowledge distillation: a frozen teacher's soft targets (temperature-scaled), mixed with LM loss.

Per label position, KD = T² · KL(softmax(teacher/T) ‖ softmax(student/T)); T² keeps the gradient's
scale independent of T (Hinton et al.). The student's decoder runs once: each chunk of label
positions gives both its cross-entropy and its KD term from the same logits, and the teacher's
hidden states are taken at exactly the positions `label_hidden` selects for the student.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaler_wizard.evaluate.loss import backbone_and_head, label_hidden
from scaler_wizard.recipe.spec import DistillSpec, ModelSpec

if TYPE_CHECKING:
    import torch

    from scaler_wizard.models.runtime import ModelRuntime


@dataclass(frozen=True)
class Distillation:
    """A frozen teacher and how its targets are mixed into the loss."""

    teacher: Any
    weight: float
    temperature: float
    top_k: int | None = None

    @classmethod
    def from_spec(cls, teacher: Any, spec: DistillSpec) -> Distillation:
        return cls(teacher, spec.weight, spec.temperature, spec.top_k)


def freeze(teacher: Any) -> Any:
    """Eval mode (no dropout) and no gradients: the teacher is a fixed target."""
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher


def load_teacher(
    spec: DistillSpec, base: Path, config: Any, runtime: ModelRuntime, tokenizer: Any
) -> Any:
    """The teacher, frozen: `base` with `config` for 'base', else `spec.teacher` as a source.

    Loaded from disk rather than deep-copied before growth: the copy would sit in memory through
    growth for nothing, and loading after growth lets the teacher's embeddings be fitted to the
    final tokenizer (new rows at the mean, as the student's were), so the vocabularies match.
    """
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.models.source import resolve_model_source
    from scaler_wizard.models.tokenizer_prep import fit_embeddings

    if spec.teacher != "base":
        base = resolve_model_source(ModelSpec(source=spec.teacher)).path
        config = load_config(base)
    teacher = load_model(base, config, runtime.dtype, runtime.attn_implementation)
    fit_embeddings(teacher, tokenizer)
    return freeze(teacher)


def check_vocabularies(student: Any, teacher: Any) -> None:
    """KL over two vocabularies is meaningless: the logit rows must be the same tokens."""
    ours = backbone_and_head(student)[1].weight.shape[0]
    theirs = backbone_and_head(teacher)[1].weight.shape[0]
    if ours != theirs:
        raise ValueError(
            f"the distillation teacher has {theirs} output tokens, the student {ours}; "
            "the teacher must use the student's tokenizer"
        )


def kd_sum(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float,
    top_k: int | None = None,
) -> torch.Tensor:
    """T² · Σ_positions KL(teacher ‖ student) at temperature T, float32; [n, vocab] logits in.

    With `top_k`, the teacher's distribution is its k largest logits renormalised, and the
    student is scored by its full-vocabulary log-probabilities at those k tokens.
    """
    from torch.nn import functional

    student_log = functional.log_softmax(student_logits.float() / temperature, dim=-1)
    teacher_scaled = teacher_logits.detach().float() / temperature
    if top_k is not None and top_k < teacher_scaled.shape[-1]:
        teacher_scaled, index = teacher_scaled.topk(top_k, dim=-1)
        student_log = student_log.gather(-1, index)
    teacher_log = functional.log_softmax(teacher_scaled, dim=-1)
    kl = (teacher_log.exp() * (teacher_log - student_log)).sum()
    return kl * temperature**2


def distill_loss_sums(
    model: Any,
    distill: Distillation,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    chunk_tokens: int = 1024,
    recompute_chunks: bool = False,
    attention_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(summed LM cross-entropy, summed KD term, label tokens) over one batch, in chunks.

    The LM sum equals `label_loss_sum`'s. The teacher runs without autograd, so only its
    [n, hidden] states at label positions stay alive; its logits are recomputed per chunk, so
    at most [chunk x vocab] logits of each model exist at once (with `recompute_chunks`, also
    in backward, at the price of a second teacher-head pass per chunk).
    """
    import torch
    from torch.nn import functional
    from torch.utils.checkpoint import checkpoint

    _, head = backbone_and_head(model)
    _, teacher_head = backbone_and_head(distill.teacher)
    selected, wanted = label_hidden(model, input_ids, labels, position_ids, attention_mask)
    with torch.no_grad():
        taught, _ = label_hidden(distill.teacher, input_ids, labels, position_ids, attention_mask)

    def chunk_terms(
        h: torch.Tensor, y: torch.Tensor, t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = head(h).float()
        with torch.no_grad():
            teacher_logits = teacher_head(t)
        lm = functional.cross_entropy(logits, y, reduction="sum")
        return lm, kd_sum(logits, teacher_logits, distill.temperature, distill.top_k)

    lm_total = selected.new_zeros((), dtype=torch.float32)
    kd_total = selected.new_zeros((), dtype=torch.float32)
    for start in range(0, wanted.numel(), chunk_tokens):
        part = slice(start, start + chunk_tokens)
        if recompute_chunks and torch.is_grad_enabled():
            lm, kd = checkpoint(
                chunk_terms, selected[part], wanted[part], taught[part], use_reentrant=False
            )
        else:
            lm, kd = chunk_terms(selected[part], wanted[part], taught[part])
        lm_total, kd_total = lm_total + lm, kd_total + kd
    return lm_total, kd_total, int(wanted.numel())
