"""The `scaler-wizard` command line. Heavy imports happen inside commands so `--help` is instant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    help="Grow small open LLMs: more parameters, longer context, better data; one GPU or a CPU.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
recipes_app = typer.Typer(help="Shipped recipe templates (personas).", no_args_is_help=True)
runs_app = typer.Typer(
    help="Runs in the workspace ($SCALER_WIZARD_HOME/runs).", no_args_is_help=True
)
app.add_typer(recipes_app, name="recipes")
app.add_typer(runs_app, name="runs")

out = Console()
err = Console(stderr=True)

RecipeArg = Annotated[
    str, typer.Argument(help="Recipe YAML file, or a template name (see `recipes list`).")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a field: section.field=value (repeatable)."),
]


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _load(recipe: str, overrides: list[str] | None) -> Any:
    from scaler_wizard.recipe import RecipeError, load_recipe
    from scaler_wizard.recipe.templates import resolve_recipe_path

    try:
        return load_recipe(resolve_recipe_path(recipe), overrides or [])
    except RecipeError as exc:
        _fail(str(exc))


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors caused by input: printed as one clear message, never as a traceback."""
    from scaler_wizard.context import ContextPlanError
    from scaler_wizard.data import DataError
    from scaler_wizard.models.gguf_convert import ModelSourceError
    from scaler_wizard.recipe import RecipeError
    from scaler_wizard.registry import UnknownEntryError

    return (RecipeError, ModelSourceError, DataError, ContextPlanError, UnknownEntryError)


@app.command()
def plan(
    recipe: RecipeArg, set_: SetOpt = None, as_json: bool = typer.Option(False, "--json")
) -> None:
    """Validate a recipe and show what a run would do: hardware, model facts, context, rank."""
    from scaler_wizard.catalog import build_catalog
    from scaler_wizard.cli.render import render_plan
    from scaler_wizard.pipeline import make_plan

    spec = _load(recipe, set_)
    try:
        result = make_plan(spec, build_catalog())
    except _user_errors() as exc:
        _fail(str(exc))
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        render_plan(out, result)


@app.command()
def grow(
    recipe: RecipeArg, set_: SetOpt = None, quiet: bool = typer.Option(False, "--quiet")
) -> None:
    """Run a recipe end to end and leave an artifact in the workspace."""
    from scaler_wizard.cli.render import render_outcome
    from scaler_wizard.pipeline import PhaseFailed, run_pipeline

    spec = _load(recipe, set_)
    try:
        outcome = run_pipeline(spec, console=not quiet)
    except _user_errors() as exc:
        _fail(str(exc))
    except PhaseFailed as exc:
        user = isinstance(exc.error, _user_errors())
        _fail(
            f"{exc.phase} failed: {exc.error}\n  the run folder keeps its logs; the artifact is "
            "marked failed in manifest.json",
            2 if user else 1,
        )
    render_outcome(out, outcome.run.path, outcome.manifest)


@app.command("eval")
def evaluate(
    model: Annotated[str, typer.Argument(help="A run id (its merged model) or a model folder.")],
    data: Annotated[Path | None, typer.Option(help="JSONL/text file for held-out loss.")] = None,
    passkey_length: Annotated[
        list[int] | None, typer.Option(help="Passkey prompt length (repeatable).")
    ] = None,
    trials: Annotated[int, typer.Option(min=1)] = 1,
    records: Annotated[int, typer.Option(min=1, help="Records of --data to score.")] = 48,
) -> None:
    """Measure a model: held-out loss/perplexity on a file, passkey retrieval at given lengths."""
    from scaler_wizard.cli.evaluate_command import evaluate_model

    if data is None and not passkey_length:
        _fail("give --data and/or --passkey-length")
    errors: tuple[type[BaseException], ...] = (*_user_errors(), FileNotFoundError)
    try:
        metrics = evaluate_model(model, data, passkey_length or [], trials, records)
    except errors as exc:
        _fail(str(exc))
    out.print_json(data=metrics)


@recipes_app.command("list")
def recipes_list() -> None:
    """List the shipped templates."""
    from rich.table import Table

    from scaler_wizard.recipe.templates import PERSONAS, template_description, template_names

    table = Table("template", "persona", "description")
    for name in template_names():
        table.add_row(name, "yes" if name in PERSONAS else "", template_description(name))
    out.print(table)


@recipes_app.command("show")
def recipes_show(name: str) -> None:
    """Print a template's YAML."""
    from scaler_wizard.recipe import RecipeError
    from scaler_wizard.recipe.templates import template_path

    try:
        out.print(template_path(name).read_text(), highlight=False, markup=False)
    except RecipeError as exc:
        _fail(str(exc))


@recipes_app.command("copy")
def recipes_copy(
    name: str, destination: Annotated[Path, typer.Argument(help="File or folder.")] = Path(".")
) -> None:
    """Copy a template to a file or folder, to edit it."""
    from scaler_wizard.recipe import RecipeError
    from scaler_wizard.recipe.templates import copy_template

    try:
        out.print(f"wrote {copy_template(name, destination)}")
    except (RecipeError, FileExistsError) as exc:
        _fail(str(exc))


@runs_app.command("list")
def runs_list() -> None:
    """List runs, newest first."""
    from scaler_wizard.artifacts.run_folder import list_runs
    from scaler_wizard.cli.render import render_runs

    render_runs(out, list_runs())


@runs_app.command("show")
def runs_show(run_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show one run's manifest: status, metrics, where its artifact is."""
    from scaler_wizard.artifacts.run_folder import find_run
    from scaler_wizard.cli.render import render_outcome

    try:
        run = find_run(run_id)
        manifest = run.read_manifest()
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    if as_json:
        out.print_json(data=manifest)
    else:
        render_outcome(out, run.path, manifest)


@app.command()
def catalog() -> None:
    """Every registered growth strategy, context engine, data format, evaluator, sink and hook."""
    from scaler_wizard.catalog import build_catalog
    from scaler_wizard.cli.render import render_catalog

    render_catalog(out, build_catalog())


if __name__ == "__main__":
    app()
