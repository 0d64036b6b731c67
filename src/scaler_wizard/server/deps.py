"""The service's parts, built once per app, and the dependencies routes declare."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from scaler_wizard.server.actions import Actions
from scaler_wizard.server.auth import token_matches
from scaler_wizard.server.idempotency import Idempotency
from scaler_wizard.server.runner import JobRunner
from scaler_wizard.server.settings import Settings
from scaler_wizard.server.store import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    runner: JobRunner
    actions: Actions
    idempotency: Idempotency
    token: str

    @classmethod
    def build(cls, settings: Settings, token: str) -> Services:
        store = Store(settings.database)
        runner = JobRunner(settings, store)
        return cls(
            settings, store, runner, Actions(settings, store, runner), Idempotency(store), token
        )


def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="The token `scaler-wizard serve` printed.")
# Only where a browser cannot set headers (EventSource, download links): URLs end up in logs.
_query = APIKeyQuery(name="token", auto_error=False, description="The token, for GET links.")
UNAUTHORIZED = (
    "a valid token is required: 'Authorization: Bearer <token>' (printed by "
    "`scaler-wizard serve`, stored in <workspace>/server/token)"
)


def _check(services: Services, given: str | None) -> None:
    if not token_matches(services.token, given):
        raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def require_token(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    _check(services, credentials.credentials if credentials else None)


def require_token_or_query(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Depends(_query)],
) -> None:
    _check(services, credentials.credentials if credentials else token)


TokenRequired = Depends(require_token)
TokenOrQueryRequired = Depends(require_token_or_query)
