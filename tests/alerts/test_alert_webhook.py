"""Webhook delivery against a real HTTP server on 127.0.0.1: bodies, bounded retries, and a
slow endpoint that must not hold up the caller."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from alert_helpers import alert

from scaler_wizard.alerts.delivery.webhook import WebhookChannel
from scaler_wizard.recipe.alerts import WebhookSpec


class Endpoint:
    """A local endpoint answering with the queued statuses (then 200), recording each body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.release = threading.Event()
        self.release.set()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                endpoint.bodies.append(json.loads(self.rfile.read(length)))
                endpoint.release.wait(timeout=10)
                status = endpoint.statuses.pop(0) if endpoint.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.stop()


def channel(url: str, **options: Any) -> WebhookChannel:
    spec = WebhookSpec(url=url, backoff_s=0.01, timeout_s=5, **options)
    return WebhookChannel(spec, sleep=lambda _s: None)


def test_generic_json_body_for_raise_and_clear(endpoint: Endpoint) -> None:
    hook = channel(endpoint.url, on_clear=True)
    trip = alert("breaker_tripped-3", "warning", key="training")
    hook.show(trip)
    hook.clear(trip, "acknowledged")
    hook.close()
    raised, cleared = endpoint.bodies
    assert raised["event"] == "alert_raised" and raised["reason"] is None
    assert raised["alert"]["id"] == "breaker_tripped-3"
    assert raised["alert"]["priority"] == "warning"
    assert (cleared["event"], cleared["reason"]) == ("alert_cleared", "acknowledged")
    assert hook.sent == 2 and hook.failed == 0


def test_slack_compatible_text_body(endpoint: Endpoint) -> None:
    hook = channel(endpoint.url, format="slack")
    hook.show(alert("a", "caution"))
    hook.close()
    assert endpoint.bodies == [{"text": "*CAUTION* title a"}]


def test_server_errors_are_retried_a_bounded_number_of_times(endpoint: Endpoint) -> None:
    endpoint.statuses = [503, 500]
    hook = channel(endpoint.url, max_attempts=3)
    hook.show(alert("a"))
    hook.close()
    assert (len(endpoint.bodies), hook.sent, hook.failed) == (3, 1, 0)

    endpoint.bodies.clear()
    endpoint.statuses = [500] * 10
    hook = channel(endpoint.url, max_attempts=4)
    hook.show(alert("b"))
    hook.close()
    assert (len(endpoint.bodies), hook.sent, hook.failed) == (4, 0, 1)


def test_a_refused_body_is_not_sent_again(endpoint: Endpoint) -> None:
    endpoint.statuses = [400]
    hook = channel(endpoint.url, max_attempts=5)
    hook.show(alert("a"))
    hook.close()
    assert (len(endpoint.bodies), hook.failed) == (1, 1)


def test_an_unreachable_endpoint_fails_after_its_attempts() -> None:
    server = Endpoint()
    url = server.url
    server.stop()  # nothing listens on that port any more
    hook = channel(url, max_attempts=2)
    hook.show(alert("a"))
    hook.close()
    assert (hook.attempts, hook.sent, hook.failed) == (2, 0, 1)


def test_a_slow_endpoint_never_blocks_the_caller(endpoint: Endpoint) -> None:
    endpoint.release.clear()  # the server holds every request until released
    hook = channel(endpoint.url)
    hook.show(alert("a"))
    hook.show(alert("b"))
    # Both calls returned while the first request is still held by the server.
    assert hook.sent == 0
    endpoint.release.set()
    hook.close()
    assert [b["alert"]["id"] for b in endpoint.bodies] == ["a", "b"] and hook.sent == 2


def test_priority_floor_and_url_from_the_environment(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERT_HOOK_URL", endpoint.url)
    hook = channel("env:ALERT_HOOK_URL", min_priority="caution")
    hook.show(alert("quiet", "advisory"))
    hook.show(alert("loud", "warning"))
    hook.close()
    assert [b["alert"]["id"] for b in endpoint.bodies] == ["loud"]
    monkeypatch.delenv("ALERT_HOOK_URL")
    with pytest.raises(ValueError, match="ALERT_HOOK_URL"):
        channel("env:ALERT_HOOK_URL")
