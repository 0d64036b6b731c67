"""The TransformerLab Task against the real `lab` SDK (transformerlab==0.1.46), temporary HOME.

Jobs are created and the entry module is launched the way TransformerLab's launcher does it:
a job record holding `parameters`, then `_TFL_JOB_ID`/`_TFL_EXPERIMENT_ID` in the environment.
The job record is then read back as plain JSON, as the app reads it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from scaler_wizard.integrations.transformerlab import task_file
from scaler_wizard.integrations.transformerlab.mapping import ParameterError, config_to_recipe

pytest.importorskip("lab", reason="needs the `transformerlab` extra")

ENTRY = "scaler_wizard.integrations.transformerlab"
CREATE_JOB = """
import asyncio, json, sys
from lab import Experiment

async def create():
    experiment = await Experiment.create_or_get("alpha", create_new=True)
    job = await experiment.create_job()
    await job.update_job_data_fields(json.loads(sys.argv[1]))
    return job.id

print(asyncio.run(create()))
"""


# -- task.yaml -----------------------------------------------------------------------------


class TaskYamlResources(BaseModel):
    """Mirror of TransformerLab's `TaskYamlResources` (transformerlab-app
    api/transformerlab/schemas/task.py at 0183535f): unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")
    compute_provider: str | None = None
    cpus: Any = None
    memory: Any = None
    disk_space: Any = None
    accelerators: str | None = None
    num_nodes: int | None = None


class TaskYamlSweeps(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sweep_config: dict[str, Any] | None = None
    sweep_metric: str | None = None
    lower_is_better: bool | None = None


class TaskYamlSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    resources: TaskYamlResources | None = None
    envs: dict[str, Any] | None = None
    setup: str | None = None
    run: str
    github_repo_url: str | None = None
    github_repo_dir: str | None = None
    github_repo_branch: str | None = None
    parameters: dict[str, Any] | None = None
    sweeps: TaskYamlSweeps | None = None
    minutes_requested: int | None = None


# The parameter form's vocabulary (app: Tasks/QueueTaskModal/types.ts, ParameterInput.tsx).
TYPES = {"int", "integer", "float", "number", "bool", "boolean", "enum", "string"}
WIDGETS = {
    "slider",
    "range",
    "switch",
    "radio",
    "password",
    "select",
    "lab_model_select",
    "lab_dataset_select",
}
PARAM_KEYS = {
    "type",
    "default",
    "min",
    "max",
    "step",
    "options",
    "enum",
    "ui_widget",
    "title",
    "required",
    "description",
}


def test_committed_task_files_are_fresh() -> None:
    for path, text in task_file.render().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run `python -m {ENTRY}.task_file`"
        )


def test_task_yaml_follows_transformerlab_task_schema() -> None:
    data = yaml.safe_load(task_file.TASK_FILE.read_text())
    spec = TaskYamlSpec.model_validate(data)
    assert spec.run == f"python -m {ENTRY}" and spec.parameters
    for key, param in spec.parameters.items():
        assert isinstance(param, dict) and set(param) <= PARAM_KEYS, key
        assert param["type"] in TYPES, key
        assert param.get("ui_widget", "select") in WIDGETS, key
        if param["type"] == "enum":
            assert param["default"] in param["options"], key
        if param["type"] in ("int", "float"):
            assert param.get("min", param["default"]) <= param["default"], key
            assert param["default"] <= param.get("max", param["default"]), key
        if param.get("ui_widget") == "slider":
            assert {"min", "max"} <= set(param), key
    widgets = {k: p.get("ui_widget") for k, p in spec.parameters.items()}
    assert widgets["lora_rank"] == widgets["target_context"] == "slider"
    assert widgets["growth_strategy"] == widgets["context_engine"] == "select"
    assert widgets["persona"] == "select"
    assert widgets["model"] == "lab_model_select"
    assert widgets["dataset"] == "lab_dataset_select"
    gallery = json.loads(task_file.GALLERY_FILE.read_text())
    assert {"title", "description", "metadata", "supportedAccelerators"} <= set(gallery)


# -- parameters → recipe -------------------------------------------------------------------


def test_string_parameters_become_a_validated_recipe(tmp_path: Path) -> None:
    data = write_data(tmp_path / "d.jsonl")
    config = {
        "persona": "tiny-cpu",
        "dataset": str(data),
        "lora_rank": "8",
        "target_context": "512.0",
        "steps": "3",
        "learning_rate": "1e-3",
        "context_engine": "persona",
        "overrides": "evaluate.passkey=null; train.seed=7",
        "experiment_name": "alpha",
    }
    recipe = config_to_recipe(config).recipe
    assert recipe.name == "tiny-cpu" and recipe.data.train == str(data)
    assert recipe.growth[0].options["r"] == 8
    assert recipe.context.target_length == 512 and recipe.context.scale is None
    assert recipe.train.steps == 3 and recipe.train.learning_rate == 1e-3
    assert recipe.evaluate.passkey is None and recipe.train.seed == 7


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"lora_rank": "abc"}, "lora_rank"),
        ({"steps": "-2"}, "steps"),
        ({"context_engine": "warp"}, "context_engine"),
        ({"persona": "nope"}, "persona"),
        ({"overrides": "train.stepz=3"}, "overrides"),
    ],
)
def test_bad_parameters_are_named(tmp_path: Path, config: dict[str, str], named: str) -> None:
    config = {"persona": "tiny-cpu", "dataset": str(tmp_path / "d.jsonl"), **config}
    with pytest.raises(ParameterError, match=f"parameter '{named}'"):
        config_to_recipe(config)


# -- the real SDK, end to end --------------------------------------------------------------


def write_data(path: Path, n: int = 30) -> Path:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"What does `json.dumps` do? ({i})"},
                {"role": "assistant", "content": "Serialize obj to a JSON formatted str."},
            ]
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


class Lab:
    """A temporary TransformerLab home: create jobs, launch the Task, read job records."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.home.mkdir(parents=True)
        self.env = {
            **os.environ,
            "HOME": str(self.home),
            "SCALER_WIZARD_HOME": str(root / "sw-home"),
            "_TFL_EXPERIMENT_ID": "alpha",
            "WANDB_MODE": "disabled",
        }
        self.env.pop("TFL_HOME_DIR", None)
        self.env.pop("TFL_WORKSPACE_DIR", None)
        self.jobs = self.home / ".transformerlab" / "workspace" / "experiments" / "alpha" / "jobs"

    def create_job(self, **job_data: Any) -> str:
        code = [sys.executable, "-c", CREATE_JOB, json.dumps(job_data)]
        out = subprocess.run(code, env=self.env, capture_output=True, text=True, check=True)
        return out.stdout.strip().splitlines()[-1]

    def launch(self, job_id: str) -> subprocess.Popen[str]:
        env = {**self.env, "_TFL_JOB_ID": job_id}
        return subprocess.Popen(
            [sys.executable, "-m", ENTRY],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run(self, job_id: str) -> tuple[int, str]:
        process = self.launch(job_id)
        output = process.communicate(timeout=300)[0]
        return process.returncode, output

    def record(self, job_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.jobs / job_id / "index.json").read_text())
        return data

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        text = (self.jobs / job_id / "metrics.jsonl").read_text()
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture()
def tl(tmp_path: Path) -> Lab:
    return Lab(tmp_path)


def params(model_dir: Path, data: Path, **extra: str) -> dict[str, str]:
    # Strings on purpose: TransformerLab may deliver every value as one.
    return {
        "persona": "tiny-cpu",
        "model": str(model_dir),
        "dataset": str(data),
        "target_context": "512",
        "lora_rank": "4",
        **extra,
    }


def test_run_completes_with_progress_metrics_and_a_loadable_model(
    tl: Lab, tmp_path: Path, tiny_model_dir: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    parameters = params(tiny_model_dir, write_data(tmp_path / "d.jsonl"), steps="4")
    job = tl.create_job(parameters=parameters)
    code, output = tl.run(job)
    record = tl.record(job)
    assert code == 0 and record["status"] == "COMPLETE", output
    assert record["progress"] == 100
    score = record["job_data"]["score"]
    assert score["eval_loss"] > 0 and "base/eval_loss" in score and "passkey@256" in score
    rows = tl.metrics(job)
    losses = [r for r in rows if "loss" in r.get("metrics", {})]
    assert [r["step"] for r in losses] == [1, 2, 3, 4]
    assert [r["progress"] for r in rows] == sorted(r["progress"] for r in rows)
    assert any("grown/eval_loss" in r.get("metrics", {}) for r in rows)
    log = (tl.jobs / job / f"output_{job}.txt").read_text()
    assert "▶ train" in log and "step 4 loss" in log

    models = list((tl.jobs / job / "models").iterdir())
    assert [m.name for m in models] == [f"{job}_tiny-cpu-grown"]
    model = AutoModelForCausalLM.from_pretrained(models[0])
    tokenizer = AutoTokenizer.from_pretrained(models[0])
    assert model.config.max_position_embeddings == 512
    out = model.generate(**tokenizer("The sky is", return_tensors="pt"), max_new_tokens=2)
    assert out.shape[1] > 2
    artifacts = {Path(p).name for p in record["job_data"]["artifacts"]}
    assert {"adapter", "README.md", "manifest.json"} <= artifacts
    saved = record["job_data"]["checkpoints"]  # tiny-cpu checkpoints every step
    assert saved and all((Path(c) / "scaler_wizard_run" / "recipe.yaml").is_file() for c in saved)


def test_sigterm_stops_with_a_checkpoint_that_a_resumed_job_continues(
    tl: Lab, tmp_path: Path, tiny_model_dir: Path
) -> None:
    parameters = params(
        tiny_model_dir,
        write_data(tmp_path / "d.jsonl"),
        steps="24",
        checkpoint_every="1",
        overrides="evaluate.passkey=null",
    )
    job = tl.create_job(parameters=parameters)
    process = tl.launch(job)
    checkpoints = tl.jobs / job / "checkpoints"
    deadline = time.monotonic() + 120
    while not (checkpoints / "step-000002").is_dir():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    record = tl.record(job)
    assert process.returncode == 0 and record["status"] == "STOPPED", output
    saved = sorted(p.name for p in checkpoints.iterdir())
    stopped_at = int(saved[-1].removeprefix("step-"))
    assert 2 <= stopped_at < 24 and f"step {stopped_at}" in record["job_data"]["completion_details"]
    assert (checkpoints / saved[-1] / "scaler_wizard_run" / "manifest.json").is_file()

    # TransformerLab's "resume from checkpoint": a new job pointing at the parent's checkpoint.
    resumed = tl.create_job(
        parameters=parameters, parent_job_id=job, resumed_from_checkpoint=saved[-1]
    )
    code, output = tl.run(resumed)
    record = tl.record(resumed)
    assert code == 0 and record["status"] == "COMPLETE", output
    steps = [r["step"] for r in tl.metrics(resumed) if "loss" in r.get("metrics", {})]
    assert steps[0] == stopped_at + 1 and steps[-1] == 24  # continued, not restarted
    runs = list((tmp_path / "sw-home" / "runs").iterdir())
    manifest = json.loads(
        next(r for r in runs if r.name.endswith(resumed)).joinpath("manifest.json").read_text()
    )
    assert manifest["status"] == "completed" and manifest["resumed_from"] == saved[-1]


def test_bad_parameter_fails_the_job_naming_it(
    tl: Lab, tmp_path: Path, tiny_model_dir: Path
) -> None:
    # 2048 passes the slider's type check but not LoRA's bound: caught when the run is planned.
    parameters = params(tiny_model_dir, write_data(tmp_path / "d.jsonl"), lora_rank="2048")
    job = tl.create_job(parameters=parameters)
    code, output = tl.run(job)
    record = tl.record(job)
    assert code == 1 and record["status"] == "FAILED", output
    details = record["job_data"]["completion_details"]
    assert "parameter 'lora_rank'" in details and "1024" in details
    assert not (tmp_path / "sw-home" / "runs").exists()  # nothing started
