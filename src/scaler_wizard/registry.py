"""One small registry type, used for every extension point (strategies, engines, transforms...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

ImplT = TypeVar("ImplT", bound=Callable[..., Any])


class UnknownEntryError(KeyError):
    """Raised for a name that no built-in or plugin registered; lists what is allowed."""

    def __init__(self, kind: str, name: str, allowed: list[str]) -> None:
        self.kind, self.name, self.allowed = kind, name, allowed
        super().__init__(f"unknown {kind} {name!r}; allowed: {', '.join(allowed) or '(none)'}")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Entry(Generic[ImplT]):
    """A registered extension: its options model, its implementation and where it came from."""

    name: str
    summary: str
    options: type[BaseModel]
    impl: ImplT
    origin: str = "built-in"


class Registry(Generic[ImplT]):
    """Name → Entry for one kind of extension, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.default_origin = "built-in"  # set to a plugin's name while it registers
        self._entries: dict[str, Entry[ImplT]] = {}

    def register(
        self,
        name: str,
        options: type[BaseModel],
        impl: ImplT,
        summary: str,
        origin: str | None = None,
    ) -> None:
        if name in self._entries:
            raise ValueError(
                f"{self.kind} {name!r} is already registered by {self._entries[name].origin}"
            )
        self._entries[name] = Entry(name, summary, options, impl, origin or self.default_origin)

    def get(self, name: str) -> Entry[ImplT]:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownEntryError(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[ImplT]]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)
