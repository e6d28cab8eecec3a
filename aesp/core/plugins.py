"""Loading the configured profiles' plugins and building the ports they realise (DESIGN §6).

Only the entry points the configuration names are loaded (``entry_points(group="aesp",
name=profile)``), never every installed plugin. A missing profile or a profile that does not
realise a required port stops start-up with one line naming what is missing and which
distribution provides it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

import pluggy

from aesp import hookspecs
from aesp.core.errors import ConfigurationError
from aesp.core.registry import AdapterRegistry

ENTRY_POINT_GROUP = "aesp"


def distribution_for(profile: str) -> str:
    """The distribution that provides ``profile`` (convention: ``aesp-<profile>``)."""
    return f"aesp-{profile}"


def installed_profiles() -> list[str]:
    """Names of every installed profile plugin."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_registry(profiles: Iterable[str], *, plugins: Sequence[object] = ()) -> AdapterRegistry:
    """Load the named profiles' plugins (plus ``plugins``, for tests) and collect their factories.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` for a profile that is not installed.
    """
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for profile in sorted(set(profiles)):
        found = list(entry_points(group=ENTRY_POINT_GROUP, name=profile))
        if not found:
            installed = ", ".join(installed_profiles()) or "none"
            raise ConfigurationError(
                "INVALID_CONFIG",
                f"Profile '{profile}' is not installed; install {distribution_for(profile)} "
                f"(installed profiles: {installed}).",
            )
        pm.register(found[0].load(), name=profile)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()  # a misspelt hookimpl fails here, at start-up
    registry = AdapterRegistry()
    pm.hook.aesp_register_adapters(registry=registry)
    return registry


def check_required(
    registry: AdapterRegistry, required: Mapping[str, type], choice: Mapping[str, str]
) -> None:
    """Refuse to start unless every required port has a realisation in its chosen profile.

    Args:
        registry: The loaded registrations.
        required: Port name (``tenancy``, ``audit``, ...) to port Protocol.
        choice: Port name to the profile chosen for it.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` listing every missing (port, profile, distribution).
    """
    missing = [
        f"{name} (profile '{choice[name]}', provided by {distribution_for(choice[name])})"
        for name, port in required.items()
        if registry.find(port, choice[name]) is None
    ]
    if missing:
        raise ConfigurationError(
            "INVALID_CONFIG", "The configured profiles do not realise: " + "; ".join(missing) + "."
        )


async def build_ports(
    registry: AdapterRegistry, required: Mapping[str, type], choice: Mapping[str, str], config: Any
) -> dict[str, Any]:
    """Build every required port from its chosen profile."""
    check_required(registry, required, choice)
    return {
        name: await registry.build(port, choice[name], config) for name, port in required.items()
    }
