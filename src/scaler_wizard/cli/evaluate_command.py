"""`scaler-wizard eval`: measure any model folder or a run's merged model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler_wizard.artifacts.run_folder import find_run


def evaluate_model(
    model_ref: str, data: Path | None, passkey_lengths: list[int], trials: int, records: int
) -> dict[str, Any]:
    from scaler_wizard.data import prepare_data
    from scaler_wizard.evaluate.held_out import evaluate_held_out
    from scaler_wizard.evaluate.passkey import run_passkey
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.models.tokenizer_prep import load_tokenizer
    from scaler_wizard.recipe.spec import DataSpec, TokenizerSpec

    path = Path(model_ref).expanduser()
    if not path.is_dir():
        path = find_run(model_ref).model
        if not path.is_dir():
            raise FileNotFoundError(f"run {model_ref} has no merged model (was it completed?)")
    tokenizer, _ = load_tokenizer(path, TokenizerSpec())
    model = load_model(path, load_config(path)).eval()
    metrics: dict[str, Any] = {"model": str(path)}
    if data is not None:
        # The same seeded split as training: `records` held-out records are scored.
        spec = DataSpec(train=str(data), eval_records=records, max_records=None, seq_length=2048)
        prepared = prepare_data(spec, tokenizer)
        held = evaluate_held_out(model, prepared.eval_rows)
        metrics.update(
            eval_loss=held.loss,
            eval_perplexity=held.perplexity,
            eval_label_tokens=held.label_tokens,
        )
    if passkey_lengths:
        result = run_passkey(model, tokenizer, passkey_lengths, trials)
        metrics["passkey"] = {str(r.length): r.accuracy for r in result.lengths}
    return metrics
