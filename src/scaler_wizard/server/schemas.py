"""Request and response bodies of the HTTP API (published in schemas/openapi.json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scaler_wizard.server.store import LIVE, JobRecord, JobStatus, StopRequest

JOB_ID = r"^job-[0-9a-f]{12}$"
CHECKPOINT = r"^step-[0-9]{1,12}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldProblemOut(BaseModel):
    path: str = Field(description="Dotted field path, e.g. 'train.steps' or 'growth[0].options'.")
    message: str
    line: int | None = Field(None, description="1-based YAML line, when the input was YAML.")


class ErrorBody(BaseModel):
    detail: str
    problems: list[FieldProblemOut] = Field(default_factory=list)


class RecipeInput(Body):
    """A recipe: exactly one of a template name, a recipe object or YAML text, plus overrides."""

    template: str | None = Field(None, description="A shipped template name, e.g. 'tiny-cpu'.")
    recipe: dict[str, Any] | None = Field(None, description="A full recipe object.")
    recipe_yaml: str | None = Field(None, description="A full recipe as YAML text.")
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted path → value, like `--set`: {'train.steps': 20, "
        "'growth.0.options.r': 8}.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> RecipeInput:
        given = [x for x in (self.template, self.recipe, self.recipe_yaml) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of template, recipe or recipe_yaml")
        return self


class RecipeChecked(BaseModel):
    recipe: dict[str, Any] = Field(description="The recipe with every default filled in.")


class PlanResult(BaseModel):
    plan: dict[str, Any] = Field(description="`scaler-wizard plan --json`: hardware, model, ...")


class TemplateInfo(BaseModel):
    name: str
    persona: bool
    description: str


class TemplateDetail(TemplateInfo):
    yaml: str
    recipe: dict[str, Any]


class JobView(BaseModel):
    id: str
    status: JobStatus
    recipe_name: str
    run_id: str | None
    created: str
    updated: str
    started: str | None
    finished: str | None
    pid: int | None = Field(description="The job's process, while it runs.")
    exit_code: int | None
    reason: str | None = Field(description="Why the job is in its state, in plain words.")
    stop_requested: StopRequest | None
    resume: bool = Field(description="The next start continues the run from a checkpoint.")

    @classmethod
    def of(cls, job: JobRecord) -> JobView:
        return cls(
            id=job.id,
            status=job.status,
            recipe_name=job.recipe_name,
            run_id=job.run_id,
            created=job.created,
            updated=job.updated,
            started=job.started,
            finished=job.finished,
            pid=job.pid if job.status in LIVE else None,
            exit_code=job.exit_code,
            reason=job.reason,
            stop_requested=job.stop_requested,
            resume=job.resume,
        )


class JobDetail(JobView):
    run_status: str | None = Field(description="The run folder's manifest status.")
    awaiting: str | None = Field(description="The approval gate the run waits at, if any.")
    error: str | None = Field(description="The run's recorded error (manifest), if any.")
    metrics: dict[str, Any] = Field(description="Base and grown metrics from the manifest.")
    stderr_tail: str = Field(description="The end of the job process's stderr.")


class NoteBody(Body):
    note: str = Field("", max_length=2000, description="Why; kept in the run's manifest.")


class RollbackBody(Body):
    to: str | None = Field(None, pattern=CHECKPOINT, description="Default: the newest.")
    resume: bool = Field(False, description="Queue the job again to continue at once.")


class ActionResult(BaseModel):
    job: JobView
    message: str


class ModelCheck(Body):
    source: str = Field(min_length=1, description="As in model.source: 'embedded', a folder, ...")


class ModelInfo(BaseModel):
    source: str
    kind: str = Field(description="'embedded', 'gguf', 'folder', 'hub' or 'unknown'.")
    available: bool = Field(description="Usable without a download.")
    path: str | None = None
    message: str = ""
    config: dict[str, Any] = Field(
        default_factory=dict, description="Facts from config.json: architecture, layers, ..."
    )


class DatasetRecord(BaseModel):
    line: int
    messages: list[dict[str, str]] | None = None
    text: str | None = None


class DatasetInfo(BaseModel):
    id: str
    name: str
    path: str = Field(description="Absolute path, for data.train.")
    size_bytes: int
    sha256: str
    format: str
    records: int
    skipped: int
    problems: list[str] = Field(description="Sample messages about skipped records.")
    preview: list[DatasetRecord]


class RunSummary(BaseModel):
    run_id: str
    status: str
    recipe_name: str | None
    created: str | None


class FileEntry(BaseModel):
    path: str = Field(description="Relative to the run folder, '/'-separated.")
    size_bytes: int
