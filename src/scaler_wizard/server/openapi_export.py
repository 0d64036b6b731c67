"""`python -m scaler_wizard.server.openapi_export`: write schemas/openapi.json.

The web client is generated from this file; a test fails when it is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scaler_wizard.server.app import create_app
from scaler_wizard.server.settings import Settings

OUTPUT = Path("schemas") / "openapi.json"


def render_openapi() -> str:
    # The schema depends on no setting: any workspace and token give the same document.
    app = create_app(Settings(workspace=Path("workspace"), web_dist=Path("web-dist")), "-")
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def write_openapi(path: Path = OUTPUT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_openapi())
    return path


if __name__ == "__main__":
    sys.stdout.write(f"wrote {write_openapi()}\n")
