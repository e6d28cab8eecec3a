"""Every plugin hook aesp defines. Adapters implement these to realise the ports.

An adapter distribution (``aesp-<profile>``) registers one plugin module under the entry-point
group ``aesp``, named after its profile (``local = "aesp_local.plugin"``). The Host loads only
the profiles its configuration names (``aesp.core.plugins``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

import pluggy

if TYPE_CHECKING:
    from aesp.core.registry import AdapterRegistry

F = TypeVar("F")
_spec = pluggy.HookspecMarker("aesp")
_impl = pluggy.HookimplMarker("aesp")
# NOTE: the casts keep the decorated functions' own signatures visible to type checkers.
hookspec = cast("Any", _spec)
hookimpl = cast("Any", _impl)

# ---------------------------------------------------------------- start-up


@hookspec
def aesp_register_adapters(registry: AdapterRegistry) -> None:
    """Called once at Host start-up, before any port is used, for each loaded profile plugin.

    The plugin adds a factory for every port it realises with
    ``registry.add(port=TenantRegistry, profile="local", factory=..., distribution="aesp-local")``.
    A factory takes the Host's :class:`~aesp.core.config.HostConfig` and returns the adapter
    (it may be a coroutine function when the adapter must open connections).

    :param registry: The registry to add factories to. A second factory for the same
        ``(port, profile)`` is refused with ``ValueError`` naming both distributions.
    :returns: Nothing; the registry is the output.

    Who implements this: every adapter distribution (``aesp-local``, ``aesp-aws``, ...).
    """
