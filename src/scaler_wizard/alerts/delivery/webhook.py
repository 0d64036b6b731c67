"""Alerts as HTTP POSTs: a generic JSON body or a chat-service `{"text": ...}` body.

Posts run on a background worker with bounded retries (transport errors, 408, 425, 429 and 5xx;
`Retry-After` honoured up to a cap), so a slow or dead endpoint never blocks the run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx

from scaler_wizard.alerts.delivery.worker import Worker
from scaler_wizard.alerts.model import Alert, ClearReason, at_least
from scaler_wizard.recipe.alerts import WebhookSpec

RETRY_STATUS = frozenset({408, 425, 429})
MAX_RETRY_AFTER_S = 30.0
CLOSE_TIMEOUT_S = 10.0


class WebhookChannel:
    def __init__(
        self,
        spec: WebhookSpec,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        start: bool = True,
    ) -> None:
        self.spec = spec
        self.url = resolve_url(spec.url)
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=spec.timeout_s)
        self._sleep = sleep
        self.worker = Worker("alerts-webhook", spec.queue_size, start=start)
        self.sent = 0
        self.failed = 0
        self.attempts = 0

    def show(self, alert: Alert) -> None:
        if at_least(alert.priority, self.spec.min_priority):
            body = webhook_body(self.spec.format, alert)
            self.worker.submit(alert.id, lambda: self._post(body))

    def clear(self, alert: Alert, reason: ClearReason) -> None:
        if self.spec.on_clear and at_least(alert.priority, self.spec.min_priority):
            body = webhook_body(self.spec.format, alert, cleared=reason)
            self.worker.submit(alert.id, lambda: self._post(body))

    def close(self) -> None:
        self.worker.close(CLOSE_TIMEOUT_S)
        if self._own_client:
            self._client.close()

    def _post(self, body: dict[str, Any]) -> None:
        delay_s = self.spec.backoff_s
        for attempt in range(1, self.spec.max_attempts + 1):
            self.attempts += 1
            wait_s = delay_s
            try:
                response = self._client.post(self.url, json=body, headers=self.spec.headers)
                if response.is_success:
                    self.sent += 1
                    return
                if response.status_code not in RETRY_STATUS and response.status_code < 500:
                    break  # the endpoint refuses this body: sending it again will not help
                wait_s = max(delay_s, _retry_after_s(response))
            except httpx.HTTPError:
                pass
            if attempt < self.spec.max_attempts:
                self._sleep(wait_s)
                delay_s *= 2
        self.failed += 1


def resolve_url(url: str) -> str:
    """`env:NAME` reads the URL from the environment, so secrets stay out of recipes."""
    if not url.startswith("env:"):
        return url
    name = url.removeprefix("env:")
    value = os.environ.get(name, "")
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"webhook URL variable {name} is not set to an http(s) URL")
    return value


def webhook_body(kind: str, alert: Alert, *, cleared: ClearReason | None = None) -> dict[str, Any]:
    if kind == "slack":
        if cleared is not None:
            return {"text": f"Cleared ({cleared}): {alert.title}"}
        message = f"\n{alert.message}" if alert.message else ""
        return {"text": f"*{alert.priority.upper()}* {alert.title}{message}"}
    return {
        "event": "alert_cleared" if cleared is not None else "alert_raised",
        "reason": cleared,
        "run_id": alert.run_id,
        "alert": {
            "id": alert.id,
            "priority": alert.priority,
            "title": alert.title,
            "message": alert.message,
            "rule": alert.rule,
            "key": alert.key,
            "count": alert.count,
            "source_seq": alert.source_seq,
        },
    }


def _retry_after_s(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", 0)), MAX_RETRY_AFTER_S)
    except ValueError:  # an HTTP date: use the backoff
        return 0.0
