"""A running service per test, on its own workspace and SQLite file in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_helpers import Service, kill_live_jobs, make_settings

from scaler_wizard.server.settings import Settings
from tiny_models import write_chat_data


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture()
def service(settings: Settings) -> Iterator[Service]:
    running = Service(settings).start()
    yield running
    running.stop()
    kill_live_jobs(settings)


@pytest.fixture()
def chat_data(tmp_path: Path) -> Path:
    return write_chat_data(tmp_path / "chats.jsonl", 40)


@pytest.fixture()
def tiny_job(tiny_model_dir: Path, chat_data: Path) -> dict[str, Any]:
    """A job body: the tiny-cpu template on the tiny random model, a few steps, no passkey."""
    return {
        "template": "tiny-cpu",
        "overrides": {
            "model.source": str(tiny_model_dir),
            "data.train": str(chat_data),
            "evaluate.passkey": None,
        },
    }
