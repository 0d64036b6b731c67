"""The `scaler-wizard` command line. Heavy imports happen inside commands so `--help` is instant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

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
events_app = typer.Typer(help="Run event logs (events.jsonl).", no_args_is_help=True)
app.add_typer(recipes_app, name="recipes")
app.add_typer(events_app, name="events")
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
def profile(
    recipe: Annotated[
        str | None,
        typer.Argument(help="Recipe YAML file or template name; default: the one chosen for you."),
    ] = None,
    set_: SetOpt = None,
    goal: Annotated[
        str, typer.Option(help="What to grow most: balanced, context or parameters.")
    ] = "balanced",
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show this machine, the persona template that fits it, and training settings that fit."""
    from scaler_wizard.cli.render import render_profile
    from scaler_wizard.pipeline.profile import make_profile

    if goal not in ("balanced", "context", "parameters"):
        _fail(f"--goal: choose balanced, context or parameters, not {goal!r}")
    spec = _load(recipe, set_) if recipe is not None else None
    try:
        result = make_profile(spec, goal)  # type: ignore[arg-type]  # checked just above
    except _user_errors() as exc:
        _fail(str(exc))
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        render_profile(out, result)


PAUSED_EXIT_CODE = 3


@app.command()
def grow(
    recipe: Annotated[
        str | None, typer.Argument(help="Recipe YAML file or template name (see `recipes list`).")
    ] = None,
    set_: SetOpt = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue this run from its latest checkpoint.")
    ] = None,
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Run a recipe end to end and leave an artifact in the workspace.

    SIGTERM or Ctrl-C saves a checkpoint and pauses (exit code 3); `--resume RUN` continues.
    Under `torchrun --nproc_per_node N -m scaler_wizard.cli grow ...` (or `accelerate launch
    --multi_gpu`) the N processes train data-parallel; rank 0 writes the run and speaks.
    """
    from scaler_wizard.cli.render import render_outcome
    from scaler_wizard.pipeline import PhaseFailed, ResumeError, resume_pipeline, run_pipeline
    from scaler_wizard.pipeline.launch import PeerFailed, join_launch
    from scaler_wizard.train.parallel import UnsupportedLaunch

    if (recipe is None) == (resume is None):
        _fail("give a recipe to start a run, or --resume RUN to continue one (not both)")
    try:
        launch = join_launch()  # this process's place under a launcher; else the only one
    except UnsupportedLaunch as exc:
        _fail(str(exc))
    errors: tuple[type[BaseException], ...] = (*_user_errors(), ResumeError, FileNotFoundError)
    outcome, code, message = None, 0, ""
    error: BaseException | None = None
    try:
        if resume is not None:
            if set_:
                _fail("--set cannot change a run being resumed; its recipe.yaml is used as is")
            outcome = resume_pipeline(resume, console=not quiet, launch=launch)
        else:
            outcome = run_pipeline(_load(recipe or "", set_), console=not quiet, launch=launch)
    except PeerFailed as exc:  # rank 0 failed and says why; this process just stops
        error, code = exc, 1
    except errors as exc:
        error, code, message = exc, 2, str(exc)
    except PhaseFailed as exc:
        error, code = exc, 2 if isinstance(exc.error, _user_errors()) else 1
        if not isinstance(exc.error, PeerFailed):
            message = (
                f"{exc.phase} failed: {exc.error}\n  the run folder keeps its logs; the "
                "artifact is marked failed in manifest.json"
            )
    except BaseException as exc:  # anything else ends this process as it always did
        launch.finish(1, exc)
        raise
    if outcome is not None and outcome.status == "paused":
        code = PAUSED_EXIT_CODE
    code = launch.finish(code, error)  # every process in step with rank 0 exits like it
    if message:
        _fail(message, code)
    if outcome is not None and launch.is_main:
        render_outcome(out, outcome.run.path, outcome.manifest)
        if outcome.status == "paused":
            out.print(f"paused: continue with `scaler-wizard grow --resume {outcome.run.run_id}`")
    if code:
        raise typer.Exit(code)


@app.command("eval")
def evaluate(
    model: Annotated[str, typer.Argument(help="A run id (its merged model) or a model folder.")],
    data: Annotated[Path | None, typer.Option(help="JSONL/text file for held-out loss.")] = None,
    passkey_length: Annotated[
        list[int] | None, typer.Option(help="Passkey prompt length (repeatable).")
    ] = None,
    trials: Annotated[int, typer.Option(min=1)] = 1,
    records: Annotated[int, typer.Option(min=1, help="Records of --data to score.")] = 48,
    long_doc: Annotated[
        list[Path] | None,
        typer.Option(help="Plain-text file for long-document perplexity (repeatable)."),
    ] = None,
    max_length: Annotated[
        int | None, typer.Option(min=2, help="Tokens per long document; default: model window.")
    ] = None,
    bucket_size: Annotated[int, typer.Option(min=1, help="Positions per PPL bucket.")] = 1024,
    stride: Annotated[
        int | None, typer.Option(min=1, help="Sliding-window stride (default: one pass).")
    ] = None,
    window: Annotated[
        int | None, typer.Option(min=2, help="Sliding window; default: model window.")
    ] = None,
    needle_lengths: Annotated[
        str | None, typer.Option(help="Needle prompt lengths, comma-separated: 1024,2048.")
    ] = None,
    needle_depths: Annotated[
        str | None, typer.Option(help="Needle depths in percent: 0,25,50,75,100 (default).")
    ] = None,
    needle_trials: Annotated[int, typer.Option(min=1, help="Numbers per needle cell.")] = 1,
    conversations: Annotated[
        Path | None,
        typer.Option(
            help="JSONL conversations (messages, ShareGPT, Alpaca): loss per assistant turn "
            "and chat-template adherence of generated replies."
        ),
    ] = None,
    max_conversations: Annotated[
        int, typer.Option(min=1, help="Conversations of --conversations scored.")
    ] = 16,
    max_new_tokens: Annotated[
        int, typer.Option(min=1, help="Token budget of each generated reply.")
    ] = 64,
    lm_eval: Annotated[
        list[str] | None,
        typer.Option(
            "--lm-eval",
            help="lm-eval task(s), comma-separated or repeated: arc_easy,hellaswag "
            "(needs the lm-eval extra).",
        ),
    ] = None,
    lm_eval_include: Annotated[
        list[Path] | None,
        typer.Option(help="Folder of your own lm-eval task YAMLs (repeatable)."),
    ] = None,
    lm_eval_limit: Annotated[
        float | None,
        typer.Option(min=0, help="Documents per lm-eval task (below 1: a fraction)."),
    ] = None,
    lm_eval_fewshot: Annotated[
        int | None, typer.Option(min=0, help="Few-shot examples; default: each task's own.")
    ] = None,
    lm_eval_batch_size: Annotated[
        int, typer.Option(min=1, help="Requests per lm-eval forward pass.")
    ] = 4,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for long_ppl.json, needle.json, needle_heatmap.png, multi_turn.json, "
            "template_adherence.json, lm_eval.json; default: the run's eval/, else "
            "./eval-<timestamp>/.",
        ),
    ] = None,
) -> None:
    """Measure a model: held-out loss, passkey, long-document perplexity, needle grid,
    per-turn loss and template adherence, lm-eval tasks.

    Metrics go to stdout as JSON; the long-document table goes to stderr. lm-eval scores of
    a run are also recorded in its manifest (and model card).
    """
    from rich.markup import escape

    from scaler_wizard.cli.evaluate_command import (
        ChatOptions,
        LmEvalOptions,
        LongContextOptions,
        evaluate_model,
        parse_depth_percents,
        parse_int_list,
        render_long_ppl,
    )
    from scaler_wizard.evaluate.lm_eval_bridge import parse_tasks

    try:
        options = LongContextOptions(
            documents=long_doc or [],
            max_length=max_length,
            bucket_size=bucket_size,
            stride=stride,
            window=window,
            needle_lengths=parse_int_list(needle_lengths),
            needle_depths=parse_depth_percents(needle_depths),
            needle_trials=needle_trials,
            out_dir=out_dir,
        )
        harness = None
        if lm_eval is not None:
            limit = lm_eval_limit
            if limit is not None and limit >= 1 and float(limit).is_integer():
                limit = int(limit)  # a count, not a fraction
            harness = LmEvalOptions(
                tasks=parse_tasks(lm_eval),
                include=lm_eval_include or [],
                limit=limit,
                num_fewshot=lm_eval_fewshot,
                batch_size=lm_eval_batch_size,
            )
    except ValueError as exc:
        _fail(escape(str(exc)))
    chat = None
    if conversations is not None:
        chat = ChatOptions(conversations, max_conversations, max_new_tokens)
    wanted = data is not None or passkey_length or options.wanted or chat or harness
    if not wanted:
        _fail(
            "give --data, --passkey-length, --long-doc, --needle-lengths, --conversations "
            "and/or --lm-eval"
        )
    errors: tuple[type[BaseException], ...] = (*_user_errors(), FileNotFoundError, ValueError)
    try:
        report = evaluate_model(
            model, data, passkey_length or [], trials, records, options, chat, harness
        )
    except errors as exc:
        _fail(escape(str(exc)))  # e.g. "scaler-wizard[lm-eval]" is not Rich markup
    if report.long_ppl is not None:
        render_long_ppl(err, report.long_ppl, options.documents)
    out.print_json(data=report.metrics)


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


@app.command("export")
def export_run(
    run_id: str,
    gguf: Annotated[bool, typer.Option("--gguf", help="GGUF for llama.cpp / Ollama.")] = False,
    dtype: Annotated[str, typer.Option(help="GGUF weights: f16, f32 or bf16.")] = "f16",
    modelfile: Annotated[bool, typer.Option(help="Also write an Ollama Modelfile.")] = True,
) -> None:
    """Export a finished run's merged model again: `--gguf` writes gguf/ (GGUF + Modelfile)."""
    from pydantic import ValidationError

    from scaler_wizard.artifacts.gguf_export import GgufExportError
    from scaler_wizard.artifacts.run_folder import find_run
    from scaler_wizard.pipeline.export import add_gguf_export
    from scaler_wizard.recipe.spec import GgufSpec

    if not gguf:
        _fail("choose a format: --gguf")
    try:
        spec = GgufSpec(enabled=True, dtype=dtype, ollama_modelfile=modelfile)
        record = add_gguf_export(find_run(run_id), spec)
    except ValidationError as exc:
        _fail(f"--dtype: {exc.errors()[0]['msg']}")
    except (FileNotFoundError, GgufExportError) as exc:
        _fail(str(exc))
    out.print(f"wrote {record['path']} ({record['size_bytes'] / 1e6:.1f} MB, {record['dtype']})")
    for caveat in record["caveats"]:
        out.print(f"[yellow]caveat:[/] {caveat}", highlight=False)


@app.command()
def rollback(
    run_id: str,
    to: Annotated[str | None, typer.Option("--to", help="Checkpoint, e.g. step-000040.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue training at once.")] = False,
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Go back to a checkpoint (default: the newest); later work is set aside, not deleted."""
    from scaler_wizard.pipeline.rollback import RollbackError, rollback_run

    try:
        run, target, aside = rollback_run(run_id, to)
    except (FileNotFoundError, RollbackError) as exc:
        _fail(str(exc))
    out.print(f"{run.run_id} rolled back to {target}; later work kept in {aside}")
    if resume:
        grow(recipe=None, set_=None, resume=run.run_id, quiet=quiet)
    else:
        out.print(f"continue with `scaler-wizard grow --resume {run.run_id}`")


def _decide(run_id: str, decision: Literal["approve", "deny"], note: str) -> None:
    from scaler_wizard.artifacts.run_folder import find_run
    from scaler_wizard.pipeline.gates import NotAwaitingApproval, decide

    try:
        point = decide(find_run(run_id), decision, note)
    except (FileNotFoundError, NotAwaitingApproval) as exc:
        _fail(str(exc))
    verb = "approved" if decision == "approve" else "denied"
    out.print(f"{verb} '{point}' for {run_id}")


NoteOpt = Annotated[str, typer.Option("--note", help="Why; kept in the manifest.")]


@app.command()
def approve(run_id: str, note: NoteOpt = "") -> None:
    """Let a run waiting at an approval gate continue."""
    _decide(run_id, "approve", note)


@app.command()
def deny(run_id: str, note: NoteOpt = "") -> None:
    """Stop a run waiting at an approval gate; nothing is exported."""
    _decide(run_id, "deny", note)


@events_app.command("validate")
def events_validate(
    path: Annotated[Path, typer.Argument(help="An events.jsonl file, or a run id.")],
) -> None:
    """Check an event log against the published schema: valid lines, seq without gaps."""
    from scaler_wizard.artifacts.run_folder import find_run
    from scaler_wizard.telemetry.validate import validate_event_log

    if not path.is_file():
        try:
            path = find_run(str(path)).events
        except FileNotFoundError as exc:
            _fail(str(exc))
    check = validate_event_log(path)
    for problem in check.problems:
        err.print(f"[red]{problem}[/]", highlight=False)
    if not check.ok:
        _fail(f"{path}: {len(check.problems)} problem(s) in {check.events} valid event(s)", 1)
    out.print(f"{path}: {check.events} events, valid")


@app.command()
def catalog() -> None:
    """Every registered growth strategy, context engine, data format and transform, evaluator,
    telemetry sink and export hook, built in or from a plugin."""
    from scaler_wizard.catalog import build_catalog
    from scaler_wizard.cli.render import render_catalog

    render_catalog(out, build_catalog())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind; loopback by default.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    workspace: Annotated[
        Path | None, typer.Option(help="Workspace folder (default: $SCALER_WIZARD_HOME).")
    ] = None,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(help="Allow cross-origin calls from this origin (repeatable)."),
    ] = None,
) -> None:
    """Start the local web service: the web app, its API, and jobs run one at a time.

    A fresh token is printed and stored in <workspace>/server/token (owner-only).
    """
    from scaler_wizard.paths import workspace_home
    from scaler_wizard.server.app import serve as run_service
    from scaler_wizard.server.settings import LOOPBACK_HOSTS, Settings

    settings = Settings(
        workspace=(workspace or workspace_home()).expanduser().resolve(),
        host=host,
        port=port,
        allow_origins=allow_origin or [],
    )
    if host not in LOOPBACK_HOSTS:
        err.print(f"[yellow]warning:[/] listening on {host}: reachable beyond this machine")

    def announce(url: str, token_file: str) -> None:
        # soft_wrap: a URL broken over two lines cannot be copied or clicked
        out.print(f"Scaler Wizard at [bold]{url}[/]", highlight=False, soft_wrap=True)
        out.print(f"token stored in {token_file} (header 'Authorization: Bearer <token>')")

    run_service(settings, announce)


if __name__ == "__main__":
    app()
