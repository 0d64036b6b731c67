"""Answers that need torch, fetched from child processes: the hardware profile (cached in the
workspace) and the plan of a draft recipe (`scaler-wizard plan --json`)."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading
from typing import Any

from scaler_wizard.recipe import Recipe
from scaler_wizard.server.errors import ApiError, FieldProblem
from scaler_wizard.server.outcome import last_error
from scaler_wizard.server.processes import child_env, run_cli
from scaler_wizard.server.recipes import recipe_yaml
from scaler_wizard.server.settings import Settings

PROBE_MODULE = "scaler_wizard.server.hardware_probe"
PROBE_TIMEOUT_S = 120.0
# RecipeError lines as the CLI prints them: "  - line 3, train.steps: message".
PROBLEM_LINE = re.compile(r"^\s*- (?:line (\d+), )?([^:]+): (.+)$")
_probe_lock = threading.Lock()


def hardware_profile(settings: Settings, refresh: bool = False) -> dict[str, Any]:
    """The machine's profile; probed once, then read from the workspace cache."""
    with _probe_lock:
        if not refresh and settings.hardware_cache.is_file():
            cached: dict[str, Any] = json.loads(settings.hardware_cache.read_text())
            return cached
        command = [settings.python, "-m", PROBE_MODULE, str(settings.workspace)]
        done = subprocess.run(
            command,
            env=child_env(settings),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise ApiError(500, f"hardware probe failed: {last_error(done.stderr)}")
        profile: dict[str, Any] = json.loads(done.stdout)
        _remember(settings, profile)
        return profile


def plan_recipe(settings: Settings, recipe: Recipe) -> dict[str, Any]:
    """`scaler-wizard plan --json` for a recipe; its failures come back as field problems."""
    folder = settings.server_dir / "plans"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{recipe.name}-{secrets.token_hex(4)}.yaml"
    path.write_text(recipe_yaml(recipe), encoding="utf-8")
    try:
        done = run_cli(settings, ["plan", str(path), "--json"], settings.plan_timeout_s)
    except subprocess.TimeoutExpired:
        raise ApiError(504, f"plan took longer than {settings.plan_timeout_s:g} s") from None
    finally:
        path.unlink(missing_ok=True)
    if done.returncode != 0:
        message = last_error(done.stderr) or f"plan exited with code {done.returncode}"
        status = 422 if done.returncode == 2 else 500  # 2: the input is wrong, not the service
        raise ApiError(status, message, _problems(message))
    plan: dict[str, Any] = json.loads(done.stdout)
    if isinstance(plan.get("hardware"), dict):
        with _probe_lock:
            _remember(settings, plan["hardware"])
    return plan


def _remember(settings: Settings, profile: dict[str, Any]) -> None:
    settings.hardware_cache.parent.mkdir(parents=True, exist_ok=True)
    settings.hardware_cache.write_text(json.dumps(profile, indent=2) + "\n")


def _problems(message: str) -> list[FieldProblem]:
    problems = []
    for line in message.splitlines():
        match = PROBLEM_LINE.match(line)
        if match:
            path = "" if match.group(2) == "(top level)" else match.group(2).strip()
            line_no = int(match.group(1)) if match.group(1) else None
            problems.append(FieldProblem(path, match.group(3).strip(), line_no))
    if not problems and ":" in message:
        # One-line errors name their field first: "model.source: ... not found".
        field, _, rest = message.partition(":")
        if re.fullmatch(r"[a-z_]+(\.[a-z_0-9\[\]]+)+", field.strip()):
            problems.append(FieldProblem(field.strip(), rest.strip()))
    return problems
