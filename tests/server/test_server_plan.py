"""Answers that need torch come from child processes: the plan of a draft recipe and the
hardware profile (cached in the workspace)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service_helpers import Service


def test_plan_of_a_draft_recipe_and_the_hardware_it_found(
    service: Service, tiny_job: dict[str, Any]
) -> None:
    client = service.client()
    response = client.post("/api/recipes/plan", json=tiny_job)
    assert response.status_code == 200, response.text
    plan = response.json()["plan"]
    assert plan["model"]["architecture"] == "LlamaForCausalLM"
    assert plan["model"]["native_length"] == 256 and plan["growth"][0]["strategy"] == "lora"
    # The plan's hardware profile is cached: the hardware page needs no second probe.
    cached = json.loads(service.settings.hardware_cache.read_text())
    assert cached == plan["hardware"] and client.get("/api/hardware").json() == cached

    probed = client.get("/api/hardware", params={"refresh": True}).json()
    assert probed["cpu_cores"] >= 1 and probed["ram_gib"] > 0 and "gpus" in probed


def test_plan_failures_name_the_field(
    service: Service, tiny_job: dict[str, Any], tmp_path: Path
) -> None:
    client = service.client()
    missing = {**tiny_job, "overrides": {**tiny_job["overrides"]}}
    missing["overrides"]["data.train"] = str(tmp_path / "nothing.jsonl")
    response = client.post("/api/recipes/plan", json=missing)
    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["path"] == "data.train" and "file not found" in problem["message"]

    typo = {**tiny_job, "overrides": {**tiny_job["overrides"], "growth.0.options.rnak": 4}}
    response = client.post("/api/recipes/plan", json=typo)
    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["path"] == "growth[0].options.rnak"
    assert problem["message"].startswith("unknown field 'rnak'; allowed:")
