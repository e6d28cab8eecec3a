"""Shared fixtures for end-to-end tests: development PKIs written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from aesp.certs import DevPki, init_dev_pki


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """A PKI (tenant ``default``) with runtime ``example`` and client ``demo``."""
    directory: Path = tmp_path_factory.mktemp("pki")
    return init_dev_pki(directory, tenant="default", runtimes=("example",), clients=("demo",))


@pytest.fixture(scope="session")
def foreign_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """An unrelated PKI with the same file names and SPIFFE IDs, signed by a different CA."""
    directory: Path = tmp_path_factory.mktemp("foreign-pki")
    return init_dev_pki(directory, tenant="default", runtimes=("example",), clients=("demo",))
