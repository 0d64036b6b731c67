"""`Idempotency-Key`: the first request with a key acts and its response is stored; a retry
with the same key gets the stored response and never acts twice."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse

from scaler_wizard.server.errors import ApiError
from scaler_wizard.server.store import Store, StoredResponse

KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
REPLAYED_HEADER = "Idempotent-Replayed"
Action = Callable[[], tuple[int, dict[str, Any]]]


class Idempotency:
    def __init__(self, store: Store) -> None:
        self.store = store
        # Keyed actions run one at a time, so two retries racing each other still act once.
        self._lock = threading.Lock()

    def respond(self, key: str | None, request_id: str, body: Any, act: Action) -> JSONResponse:
        """Run `act` (or replay its stored result for `key`); `request_id` + `body` identify
        the request, so a key reused for a different one is refused."""
        if key is None:
            return _response(*_outcome(act))
        if not KEY.fullmatch(key):
            raise ApiError(400, "Idempotency-Key must be 1-255 printable ASCII characters")
        fingerprint = hashlib.sha256(
            json.dumps([request_id, body], sort_keys=True, default=str).encode()
        ).hexdigest()
        with self._lock:
            stored = self.store.stored_response(key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise ApiError(422, "this Idempotency-Key was used for a different request")
                response = _response(stored.status_code, json.loads(stored.body))
                response.headers[REPLAYED_HEADER] = "true"
                return response
            status, content = _outcome(act)
            self.store.store_response(key, StoredResponse(fingerprint, status, json.dumps(content)))
            return _response(status, content)


def _outcome(act: Action) -> tuple[int, dict[str, Any]]:
    """Refusals are outcomes too: a retry of a refused action is refused the same way."""
    try:
        return act()
    except ApiError as exc:
        return exc.status_code, exc.body()


def _response(status: int, content: dict[str, Any]) -> JSONResponse:
    return JSONResponse(content, status_code=status)
