"""The adapter registry: which factory realises which port for which profile (STYLE 5).

Strict by design: a second registration of the same (port, profile) is an error naming both
distributions, and every factory's product is checked against the port's runtime-checkable
Protocol when it is built (the conformance kits are the real check).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

Factory = Callable[[Any], Any | Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Registration:
    """One factory for one port of one profile."""

    port: type
    profile: str
    factory: Factory
    distribution: str


class AdapterRegistry:
    """Collects registrations from plugins; read it through :attr:`entries`."""

    def __init__(self) -> None:
        self._entries: dict[tuple[type, str], Registration] = {}

    def add(self, *, port: type, profile: str, factory: Factory, distribution: str) -> None:
        """Register ``factory`` as the realisation of ``port`` for ``profile``.

        Raises:
            ValueError: The (port, profile) pair is already registered.
        """
        key = (port, profile)
        existing = self._entries.get(key)
        if existing is not None:
            raise ValueError(
                f"{port.__name__} for profile '{profile}' is registered twice: by "
                f"{existing.distribution} and by {distribution}"
            )
        self._entries[key] = Registration(port, profile, factory, distribution)

    @property
    def entries(self) -> Mapping[tuple[type, str], Registration]:
        """A read-only view of every registration."""
        return MappingProxyType(self._entries)

    def find(self, port: type, profile: str) -> Registration | None:
        """The registration of ``port`` for ``profile``, or None."""
        return self._entries.get((port, profile))

    async def build(self, port: type, profile: str, config: Any) -> Any:
        """Build the adapter for ``port`` from ``profile``.

        Raises:
            LookupError: Nothing is registered for the pair.
            TypeError: The factory's product does not implement the port.
        """
        registration = self._entries.get((port, profile))
        if registration is None:
            raise LookupError(f"profile '{profile}' does not realise {port.__name__}")
        product = registration.factory(config)
        if inspect.isawaitable(product):
            product = await product
        if not isinstance(product, port):
            raise TypeError(
                f"{registration.distribution} built {type(product).__name__} for "
                f"{port.__name__}, which does not implement that port"
            )
        return product
