"""What the rest of the project relies on: the API process never imports torch, and the
published OpenAPI document is fresh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scaler_wizard.server.openapi_export import render_openapi

HEAVY = ("torch", "transformers", "peft", "accelerate")
# Builds the app, calls a route of every router through it, then lists heavy modules loaded.
PROBE = """
import sys, tempfile
from pathlib import Path
from fastapi.testclient import TestClient
from scaler_wizard.server.app import create_app
from scaler_wizard.server.settings import Settings

root = Path(tempfile.mkdtemp())
app = create_app(Settings(workspace=root, web_dist=root / "web"), "t")
with TestClient(app, base_url="http://127.0.0.1") as client:
    auth = {"Authorization": "Bearer t"}
    assert client.get("/api/templates").status_code == 200
    body = {"template": "tiny-cpu", "overrides": {"train.steps": 3}}
    assert client.post("/api/recipes/validate", json=body, headers=auth).status_code == 200
    assert client.post("/api/jobs", json={"template": "nope"}, headers=auth).status_code == 422
    data = ("d.jsonl", b'{"text": "hello"}\\n')
    assert client.post("/api/datasets", files={"file": data}, headers=auth).status_code == 201
    assert client.get("/api/models", headers=auth).status_code == 200
    assert client.get("/api/runs", headers=auth).status_code == 200
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})))
"""


def test_the_api_process_never_imports_torch() -> None:
    code = PROBE.replace("{heavy!r}", repr(set(HEAVY)))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"heavy modules imported: {done.stdout}"


def test_published_openapi_is_fresh() -> None:
    published = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"
    assert published.is_file(), "run `python -m scaler_wizard.server.openapi_export`"
    assert published.read_text() == render_openapi(), (
        f"{published} is stale: run `python -m scaler_wizard.server.openapi_export`"
    )
