"""Rich views of plans, runs and the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Column, Table

if TYPE_CHECKING:
    from scaler_wizard.catalog import Catalog
    from scaler_wizard.pipeline.plan import RunPlan
    from scaler_wizard.pipeline.profile import Profile


def render_plan(console: Console, plan: RunPlan) -> None:
    m, c = plan.model, plan.context
    console.print(
        Panel.fit(f"[bold]{plan.recipe_name}[/] on {plan.hardware.describe()}", title="plan")
    )
    facts = Table("model", "value", show_header=False)
    facts.add_row("model", f"{m.name} ({m.kind}: {m.path})")
    facts.add_row(
        "architecture",
        f"{m.architecture}, {m.layers} layers, hidden {m.hidden_size}, vocab {m.vocab_size}",
    )
    facts.add_row("native context", f"{m.native_length:,} tokens; RoPE {m.rope}")
    if m.sliding_window:
        facts.add_row("sliding window", f"{m.sliding_window:,}")
    console.print(facts)
    ctx = Table("context", "value", show_header=False)
    ctx.add_row(
        "engine", f"{c.engine} ×{c.factor:g}: {c.native_length:,} → {c.target_length:,} tokens"
    )
    ctx.add_row("RoPE after", str(c.rope_after))
    for reason in c.reasons:
        ctx.add_row("why", reason)
    for warning in c.warnings:
        ctx.add_row("[yellow]warning[/]", warning)
    console.print(ctx)
    if plan.stages:
        stages = Table("stage", "context", "steps", "row tokens", "learning rate")
        for stage in plan.stages:
            c = stage.context
            stages.add_row(
                str(stage.index + 1),
                f"{c.engine} ×{c.factor:g} → {c.target_length:,}",
                str(stage.steps),
                str(stage.seq_length),
                f"{stage.learning_rate:g}",
            )
        console.print(stages)
    growth = Table("growth step", "options", "why")
    for step in plan.growth:
        growth.add_row(step.strategy, _options(step.options), step.reason or "as written")
    console.print(growth)
    console.print(f"training tokens planned: {plan.train_tokens:,}; data: {plan.data_train}")
    console.print(f"evaluation at the longest length needs about {plan.eval_memory_gib:.1f} GiB")
    if plan.training is not None:
        for note in plan.training.notes:
            console.print(note)


def render_profile(console: Console, profile: Profile) -> None:
    fit, advice = profile.fit, profile.fit.recommendation
    console.print(Panel.fit(profile.hardware.describe(), title="hardware"))
    console.print(
        f"template for you: [bold]{profile.template.template}[/] ({profile.template.reason})"
    )
    table = Table("setting", "recommended", show_header=True, title=f"recipe {profile.recipe_name}")
    table.add_row("device", f"{advice.device}, {advice.budget_gib:.1f} GiB usable")
    table.add_row("dtype / attention", f"{advice.dtype} / {advice.attn_implementation}")
    table.add_row("micro-batch x accumulation", f"{advice.batch_size} x {advice.grad_accum_steps}")
    table.add_row("gradient checkpointing", "on" if advice.gradient_checkpointing else "off")
    table.add_row("LoRA rank", str(advice.lora_rank) if advice.lora_rank else "auto")
    table.add_row("training row length", f"{advice.seq_length:,} tokens")
    table.add_row("longest evaluation", f"{advice.max_eval_context:,} tokens")
    table.add_row("multi-GPU", advice.distributed)
    table.add_row("estimated peak", advice.memory.explain())
    console.print(table)
    for reason in advice.reasons:
        console.print(f"  • {reason}")
    console.print(f"as written, the recipe needs {fit.memory.total_gib:.1f} GiB")
    console.print("apply: --set " + " --set ".join(advice.overrides()))


def render_outcome(console: Console, path: Path, manifest: dict[str, Any]) -> None:
    status = manifest.get("status", "unknown")
    colour = {"completed": "green", "failed": "red"}.get(status, "yellow")
    console.print(
        Panel.fit(f"[{colour}]{status}[/] {manifest.get('run_id', path.name)}", title="run")
    )
    metrics = manifest.get("metrics", {})
    base, grown = metrics.get("base", {}), metrics.get("grown", {})
    if base or grown:
        table = Table("metric", "base", "grown", "change")
        for key in ("eval_loss", "eval_perplexity"):
            if key in base and key in grown:
                table.add_row(
                    key, f"{base[key]:.4f}", f"{grown[key]:.4f}", f"{grown[key] - base[key]:+.4f}"
                )
        for length, accuracy in grown.get("passkey", {}).items():
            before = base.get("passkey", {}).get(length)
            table.add_row(
                f"passkey @{length}",
                "-" if before is None else f"{before:.0%}",
                f"{accuracy:.0%}",
                "",
            )
        console.print(table)
    for step in manifest.get("growth", []):
        details = step.get("details", {})
        effective = details.get("effective_parameters")
        extra = f", {effective:,} effective" if effective else ""
        console.print(
            f"{step['strategy']}: {step['parameters_before']:,} → {step['parameters_after']:,} "
            f"parameters ({step['trainable']:,} trainable{extra})"
        )
    if manifest.get("error"):
        console.print(f"[red]{manifest.get('failed_phase')}: {manifest['error']}[/]")
    exports = manifest.get("exports", {})
    console.print(f"run folder: {path}")
    if exports.get("model"):
        console.print(f"merged model: {exports['model']}  (AutoModelForCausalLM.from_pretrained)")
    if exports.get("adapter"):
        console.print(f"adapter: {exports['adapter']}")


def render_runs(console: Console, runs: list[dict[str, Any]]) -> None:
    table = Table(Column("run", no_wrap=True), "status", "recipe", "model", "held-out loss")
    for run in runs:
        metrics = run.get("metrics", {})
        base = metrics.get("base", {}).get("eval_loss")
        grown = metrics.get("grown", {}).get("eval_loss")
        losses = f"{base:.3f} → {grown:.3f}" if base is not None and grown is not None else ""
        table.add_row(
            run.get("run_id", "?"),
            run.get("status", "?"),
            run.get("recipe_name", ""),
            run.get("base_model", {}).get("name", ""),
            losses,
        )
    console.print(table if runs else "no runs yet")


def render_catalog(console: Console, catalog: Catalog) -> None:
    for title, registry in catalog.sections().items():
        table = Table("name", "origin", "description", title=title, title_justify="left")
        for entry in registry:
            table.add_row(entry.name, entry.origin, entry.summary)
        console.print(table if len(registry) else f"{title}: none registered")
    for plugin, problem in catalog.plugin_errors.items():
        console.print(f"[red]plugin {plugin} failed to load: {problem}[/]")


def _options(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items() if v not in (None, False))
