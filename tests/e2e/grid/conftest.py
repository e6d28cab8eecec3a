"""Fixtures of the GRID conformance tests: one PKI per run, a fresh Host per test.

The PKI (tenant ``default``) holds runtimes ``example`` and ``second`` and clients ``demo`` and
``other``; tenant ``acme`` has runtime ``acme-rt`` and client ``acme-client``. A Host starts in
about 15 ms, so each test gets its own and no state leaks between tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import SERVED, GridClient, grid_host
from tests.e2e.scripted_runtime import ScriptedRuntime


@pytest.fixture(scope="session")
def grid_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """The PKI every GRID test uses."""
    directory: Path = tmp_path_factory.mktemp("grid-pki")
    pki = init_dev_pki(directory, runtimes=("example", "second"), clients=("demo", "other"))
    issue_into(directory, "runtime", "acme-rt", tenant="acme")
    issue_into(directory, "client", "acme-client", tenant="acme")
    return pki


@pytest.fixture
async def host(tmp_path: Path, grid_pki: DevPki) -> AsyncIterator[HostHandle]:
    """A STRICT AESP Host serving the manifest of ``_grid.CONTRACTS``."""
    async with grid_host(tmp_path / "host", grid_pki) as handle:
        yield handle


@pytest.fixture
async def dev_host(tmp_path: Path, grid_pki: DevPki) -> AsyncIterator[HostHandle]:
    """A DEVELOPMENT-mode GRID Host with the same manifest."""
    async with grid_host(
        tmp_path / "dev-host", grid_pki, mode="DEVELOPMENT", compliance="GRID"
    ) as handle:
        yield handle


@pytest.fixture
async def client(host: HostHandle) -> AsyncIterator[GridClient]:
    """Client ``demo`` of the STRICT Host."""
    c = GridClient(host.client_target, host.client_pem("demo"))
    yield c
    await c.close()


@pytest.fixture
async def runtime(host: HostHandle) -> AsyncIterator[ScriptedRuntime]:
    """A scripted runtime fulfilling every contract but ``orphan`` tenant-wide; echoes args."""
    rt = ScriptedRuntime(host.runtime_target, host.runtime_pem("example"))
    await rt.start(SERVED)
    yield rt
    await rt.close()
