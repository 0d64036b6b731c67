"""Training-free context engines on the embedded SmolLM2-135M (native 8192) at 16k tokens.

One engine per invocation (a 16k forward pass takes minutes on a CPU); results accumulate in
docs/bench-data/context/<engine>.json and `--table` merges them into docs/BENCHMARKS-context.md.

    python benchmarks/context_engines.py --engine yarn
    python benchmarks/context_engines.py --table

Per engine: passkey accuracy at the target over `--trials` trials (depths spread evenly, a new
key each), perplexity per 2k bucket of the first 16k tokens of a long document (one causal pass:
for static engines and Self-Extend the buckets inside 8k equal a pass at that length), and, for
`dynamic`, a separate pass at the native length for the short-context number.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LONGDOCS = ROOT.parent / "shared" / "data" / "longdocs"
RESULTS = ROOT / "docs" / "bench-data" / "context"
ENGINES = ["none", "linear", "ntk", "dynamic", "yarn", "self_extend", "planner"]


def build(engine: str, target: int) -> tuple[Any, Any, dict[str, Any]]:
    """The model with `engine` applied for inference, its tokenizer, and what was chosen."""
    from scaler_wizard.catalog import build_catalog
    from scaler_wizard.context import apply_context_plan, plan_context
    from scaler_wizard.context.self_extend import patch_from_config
    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf
    from scaler_wizard.models.loader import load_config, load_model
    from scaler_wizard.models.tokenizer_prep import load_tokenizer
    from scaler_wizard.recipe.spec import ContextSpec, TokenizerSpec

    path = convert_gguf(locate_embedded_gguf())
    tokenizer, _ = load_tokenizer(path, TokenizerSpec())
    config = load_config(path)
    chosen: dict[str, Any] = {"engine": engine}
    if engine != "none":  # 'none' = the base model read past its window (extrapolation)
        spec = ContextSpec(engine="auto" if engine == "planner" else engine, target_length=target)
        plan = plan_context(config, spec, will_train=False, registry=build_catalog().context)
        apply_context_plan(config, plan)
        chosen.update(
            engine=plan.engine,
            factor=plan.factor,
            rope=plan.rope_after,
            reasons=plan.reasons,
            warnings=plan.warnings,
        )
    model = load_model(path, config).eval()
    patch_from_config(model)  # Self-Extend is an attention patch recorded in the config
    return model, tokenizer, chosen


def measure(engine: str, target: int, trials: int, document: Path) -> dict[str, Any]:
    from scaler_wizard.evaluate.long_ppl import evaluate_long_documents
    from scaler_wizard.evaluate.passkey import run_passkey

    model, tokenizer, chosen = build(engine, target)
    started = time.perf_counter()
    native_ppl = None
    if chosen["engine"] == "dynamic":
        # Its frequencies depend on the longest length seen so far, and transformers restores
        # the original ones only below (not at) the native length: measure the native window
        # first, on a fresh rotary state.
        native = evaluate_long_documents(
            model, tokenizer, [document], max_length=target // 2, bucket_size=target // 2
        )
        native_ppl = native.perplexity
    passkey = run_passkey(model, tokenizer, [target], trials, seed=0)
    long = evaluate_long_documents(
        model, tokenizer, [document], max_length=target, bucket_size=2048
    )
    result: dict[str, Any] = {
        **chosen,
        "target": target,
        "passkey_correct": sum(s.correct for s in passkey.lengths[0].samples),
        "passkey_trials": trials,
        "passkey_samples": [s.model_dump() for s in passkey.lengths[0].samples],
        "perplexity_by_length": long.perplexity_by_length(),
        "bucket_perplexity": {str(b.end): b.perplexity for b in long.buckets},
        "document": document.name,
    }
    if native_ppl is not None:
        result["native_pass_perplexity"] = native_ppl
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result


def planner_choice(target: int) -> dict[str, Any]:
    """What the planner picks today for the target, training-free (no model weights needed)."""
    from scaler_wizard.catalog import build_catalog
    from scaler_wizard.context import plan_context
    from scaler_wizard.models.gguf_convert import convert_gguf, locate_embedded_gguf
    from scaler_wizard.models.loader import load_config
    from scaler_wizard.recipe.spec import ContextSpec

    config = load_config(convert_gguf(locate_embedded_gguf()))
    spec = ContextSpec(engine="auto", target_length=target)
    plan = plan_context(config, spec, will_train=False, registry=build_catalog().context)
    return {"engine": plan.engine, "factor": plan.factor, "rope": plan.rope_after}


def planner_result(target: int) -> tuple[dict[str, Any], str] | None:
    """The measured row for the planner's current choice: its own run if it made the same
    choice, else the engine run with the identical configuration (same numbers by construction)."""
    choice = planner_choice(target)
    for engine in ENGINES:
        path = RESULTS / f"{engine}.json"
        if not path.is_file():
            continue
        r = json.loads(path.read_text())
        if r.get("engine") == choice["engine"] and r.get("rope") == choice["rope"]:
            same = "" if engine == "planner" else f" (the {engine} row: same configuration)"
            # Self-Extend's factor is its group size G, not a RoPE scale.
            kind = "G=" if choice["engine"] == "self_extend" else "×"
            return r, f"planner → {choice['engine']} {kind}{choice['factor']:g}{same}"
    return None


def table() -> str:
    rows = []
    for engine in ENGINES:
        path = RESULTS / f"{engine}.json"
        found = planner_result(16384) if engine == "planner" else None
        if found is None and not path.is_file():
            rows.append(f"| {engine} | not measured yet | | | | |")
            continue
        r, label = found if found else (json.loads(path.read_text()), engine)
        ppl = r["perplexity_by_length"]
        if r["engine"] == "dynamic":  # needs its own native pass (see the module docstring)
            value = r.get("native_pass_perplexity")
            native = f"{value:.2f}" if value is not None else "not measured"
        else:
            native = f"{ppl[str(r['target'] // 2)]:.2f}"
        rows.append(
            f"| {label} | {r['passkey_correct']}/{r['passkey_trials']} | {native} | "
            f"{ppl.get(str(r['target'] * 3 // 4), float('nan')):.2f} | "
            f"{ppl[str(r['target'])]:.2f} | {r['seconds']:.0f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=ENGINES)
    parser.add_argument("--target", type=int, default=16384)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--document", type=Path, default=LONGDOCS / "nodejs-api-stream.md")
    parser.add_argument("--table", action="store_true", help="merge results into the docs table")
    args = parser.parse_args()
    if args.engine:
        result = measure(args.engine, args.target, args.trials, args.document)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{args.engine}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "passkey_samples"}, indent=2))
    if args.table or not args.engine:
        out = ROOT / "docs" / "BENCHMARKS-context.md"
        out.write_text(f"""# Context engines, training-free, at 16k

Measured by `python benchmarks/context_engines.py --engine NAME` (one engine per run, results
in `docs/bench-data/context/`), then `--table`. Embedded SmolLM2-135M-Instruct (native 8192),
float32 on 2 CPU cores. Passkey: the standard prompt at 16,384 tokens, one trial per depth
(depths spread evenly, a new 5-digit key each), greedy. Perplexity: the first 16k tokens of
`nodejs-api-stream.md` in one causal pass; "≤ 8k" is the truncated perplexity over the native
window (for `dynamic` a separate 8k pass, since its frequencies depend on the length seen).
The planner row is what `context.engine: auto` picks today for 2× without training; when that
is the configuration of an engine row, the row is reused (same RoPE parameters, same numbers).
Seconds are wall time on a shared machine, not a speed comparison. With six trials, one passkey
more or less is within noise; perplexity separates the rows more finely.

| engine | passkey @16k | ppl ≤ 8k | ppl ≤ 12k | ppl ≤ 16k | seconds |
|---|---|---|---|---|---|
{table()}
""")
        print(out.read_text())


if __name__ == "__main__":
    main()
