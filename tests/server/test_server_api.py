"""The API on a real app (uvicorn, SQLite file in tmp_path), without running jobs: the token,
recipe checks with field paths, uploads, confinement of every path a request carries."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from service_helpers import Service, make_settings

from scaler_wizard.server.settings import Settings


def test_health_and_templates_are_open_everything_else_needs_the_token(
    service: Service,
) -> None:
    anonymous = service.client(token=None)
    assert anonymous.get("/api/health").json()["status"] == "ok"
    names = [t["name"] for t in anonymous.get("/api/templates").json()]
    assert "balanced" in names and "tiny-cpu" in names
    assert anonymous.get("/api/schema/recipe").json()["$id"].startswith("scaler-wizard/recipe")

    for method, path in [
        ("GET", "/api/jobs"),
        ("POST", "/api/jobs"),
        ("POST", "/api/recipes/validate"),
        ("POST", "/api/datasets"),
        ("GET", "/api/runs"),
        ("GET", "/api/jobs/job-0123456789ab/events"),
    ]:
        for client in (anonymous, service.client(token="wrong")):
            response = client.request(method, path, json={})
            assert response.status_code == 401, (method, path, response.text)
            assert "token" in response.json()["detail"]
    assert service.client().get("/api/jobs").json() == []
    # EventSource cannot set headers: the stream (and downloads) accept ?token=.
    missing = anonymous.get("/api/jobs/job-0123456789ab/events", params={"token": service.token})
    assert missing.status_code == 404
    # ... but a mutating call never takes the token from the URL.
    assert anonymous.post("/api/jobs", params={"token": service.token}, json={}).status_code == 401


def test_token_file_is_owner_only(service: Service, settings: Settings) -> None:
    mode = stat.S_IMODE(os.stat(settings.token_file).st_mode)
    assert mode == 0o600
    assert settings.token_file.read_text().strip() == service.token


def test_invalid_recipe_fields_come_back_with_their_paths(service: Service) -> None:
    client = service.client()
    bad = {
        "template": "tiny-cpu",
        "overrides": {"train.steps": 0, "train.colour": "red", "data.seq_length": "long"},
    }
    response = client.post("/api/recipes/validate", json=bad)
    assert response.status_code == 422
    problems = {p["path"]: p["message"] for p in response.json()["problems"]}
    assert set(problems) == {"train.steps", "train.colour", "data.seq_length"}
    assert "greater than or equal to 1" in problems["train.steps"]
    assert "unknown field 'colour'" in problems["train.colour"]

    text = "schema_version: 1\nname: x\ndata: {train: a.jsonl}\ntrain:\n  steps: 0\n"
    from_yaml = client.post("/api/recipes/validate", json={"recipe_yaml": text})
    assert from_yaml.status_code == 422
    [problem] = from_yaml.json()["problems"]
    assert problem["path"] == "train.steps" and problem["line"] == 5
    unknown = client.post("/api/recipes/validate", json={"template": "nope"})
    assert unknown.status_code == 422 and unknown.json()["problems"][0]["path"] == "template"
    both = client.post("/api/recipes/validate", json={"template": "tiny-cpu", "recipe": {}})
    assert both.status_code == 422 and "exactly one" in both.json()["problems"][0]["message"]
    # The same checks guard job creation: nothing is queued.
    assert client.post("/api/jobs", json=bad).status_code == 422
    assert client.get("/api/jobs").json() == []


def test_a_valid_recipe_comes_back_with_its_defaults(service: Service) -> None:
    body = {"template": "tiny-cpu", "overrides": {"train.learning_rate": 1e-5}}
    response = service.client().post("/api/recipes/validate", json=body)
    assert response.status_code == 200, response.text
    recipe = response.json()["recipe"]
    assert recipe["train"]["learning_rate"] == 1e-5 and recipe["name"] == "tiny-cpu"
    assert recipe["train"]["weight_decay"] == 0.0  # a default the template leaves out


def upload(service: Service, name: str, content: bytes) -> tuple[int, dict[str, object]]:
    response = service.client().post("/api/datasets", files={"file": (name, content)})
    return response.status_code, response.json()


def test_upload_is_parsed_and_previewed(service: Service, chat_data: Path) -> None:
    status, info = upload(service, "../../chats.jsonl", chat_data.read_bytes())
    assert status == 201, info
    assert info["name"] == "chats.jsonl" and info["format"] == "messages"
    assert info["records"] == 40 and info["skipped"] == 0
    preview = info["preview"]
    assert isinstance(preview, list) and preview[0]["messages"][0]["role"] == "user"
    path = Path(str(info["path"]))
    assert path.parent.parent == service.settings.uploads_dir.resolve()
    listed = service.client().get("/api/datasets").json()
    assert [d["id"] for d in listed] == [info["id"]]

    mixed = b'{"text": "fine"}\n{"messages": "not a list"}\n{"text": "also fine"}\n'
    status, info = upload(service, "mixed.jsonl", mixed)
    assert status == 201 and info["records"] == 2 and info["skipped"] == 1, info


def test_upload_is_checked_shard_by_shard(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scaler_wizard.server import uploads

    monkeypatch.setattr(uploads, "DESCRIBE_SHARD_RECORDS", 3)  # 10 records: four shards
    lines = [json.dumps({"text": f"record {i}"}) for i in range(9)]
    lines.insert(7, '{"text": ""}')  # bad, in the third shard
    status, info = upload(service, "sharded.jsonl", ("\n".join(lines) + "\n").encode())
    assert status == 201, info
    assert (info["format"], info["records"], info["skipped"]) == ("text", 9, 1)
    assert info["problems"] == ["line 8: 'text' must be a non-empty string"]
    assert [r["line"] for r in info["preview"]] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("name", "content", "status", "reason"),
    [
        ("big.jsonl", b'{"text": "x"}\n' * 10_000, 413, "larger than the limit"),
        ("tool.exe", b"MZ\x90\x00", 415, "unsupported file type '.exe'"),
        ("binary.jsonl", b"\x00\x01\x02\x03", 422, "binary content"),
        ("latin1.txt", "café".encode("latin-1"), 422, "not UTF-8"),
        ("table.parquet", b"a,b\n1,2\n", 422, "not a Parquet file"),
        ("list.json", b"hello", 422, "JSON list or object"),
        ("chats.jsonl", b"not json at all\n", 422, "not a JSON object"),
        ("shapes.jsonl", b'{"question": 1}\n{"question": 2}\n', 422, "record has neither"),
        ("empty.txt", b"", 422, "empty"),
        ("bad.jsonl", b'{"messages": "x"}\n{"messages": 3}\n', 422, "no usable records; first"),
    ],
)
def test_bad_uploads_are_refused_with_the_reason(
    service: Service, name: str, content: bytes, status: int, reason: str
) -> None:
    got, body = upload(service, name, content)
    assert got == status and reason in str(body["detail"]), body
    uploads = service.settings.uploads_dir
    assert not uploads.exists() or not any(uploads.iterdir())  # nothing left behind


def test_run_ids_and_file_paths_never_leave_the_workspace(
    service: Service, settings: Settings, tmp_path: Path
) -> None:
    run = settings.runs_dir / "20260101-000000-demo-abcd"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{}")
    (run / "manifest.json").write_text(json.dumps({"status": "completed", "run_id": run.name}))
    (run / ".adapter.partial").mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    (run / "link.txt").symlink_to(secret)
    client = service.client()

    files = [f["path"] for f in client.get(f"/api/runs/{run.name}/files").json()]
    assert files == ["manifest.json", "model/config.json"]
    ok = client.get(f"/api/runs/{run.name}/files/model/config.json")
    assert ok.status_code == 200 and ok.text == "{}"
    for path in ["link.txt", "..%2F..%2Fserver%2Ftoken", "%2Fetc%2Fpasswd", ".adapter.partial"]:
        assert client.get(f"/api/runs/{run.name}/files/{path}").status_code == 404, path
    for run_id in ["..", "..%2Fserver", "%2Etmp", "a b"]:
        assert client.get(f"/api/runs/{run_id}/files").status_code in (404, 422), run_id
    assert client.get("/api/jobs/..%2F..%2Fetc").status_code in (404, 422)
    assert client.get(f"/api/runs/{run.name}/report").status_code == 404  # no model card


def test_models_are_described_from_files(service: Service, tiny_model_dir: Path) -> None:
    client = service.client()
    folder = client.post("/api/models/check", json={"source": str(tiny_model_dir)}).json()
    assert folder["kind"] == "folder" and folder["available"]
    assert folder["config"]["architecture"] == "LlamaForCausalLM"
    assert folder["config"]["native_length"] == 256
    hub = client.post("/api/models/check", json={"source": "owner/some-model"}).json()
    assert hub["kind"] == "hub"
    nonsense = client.post("/api/models/check", json={"source": "./nowhere"}).json()
    assert nonsense["kind"] == "unknown" and not nonsense["available"]
    listed = client.get("/api/models").json()
    assert listed[0]["source"] == "embedded"


def test_front_end_placeholder_cors_closed_and_host_checked(
    service: Service, tmp_path: Path
) -> None:
    page = service.client(token=None).get("/")
    assert page.status_code == 200 and "not built" in page.text
    preflight = service.client(token=None).options(
        "/api/jobs",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    rebound = service.client().get("/api/jobs", headers={"Host": "evil.example"})
    assert rebound.status_code == 400


def test_built_front_end_and_cors_allow_list(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<div id=root></div>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    settings = make_settings(tmp_path, web_dist=dist, allow_origins=["http://localhost:5173"])
    service = Service(settings).start()
    try:
        client = service.client(token=None)
        assert client.get("/").text == "<div id=root></div>"
        assert client.get("/assets/app.js").text == "console.log(1)"
        assert client.get("/jobs/123").text == "<div id=root></div>"  # client-side route
        assert client.get("/api/nothing").status_code == 404
        preflight = client.options(
            "/api/jobs",
            headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    finally:
        service.stop()


def test_one_service_per_workspace(service: Service, settings: Settings) -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        Service(settings).start()
    assert service.client().get("/api/jobs").status_code == 200  # the first one is unharmed
