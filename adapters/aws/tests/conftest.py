"""Fixtures of the AWS adapter's tests: one moto server per test session, fresh names per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from aesp_aws._aws import Aws
from aesp_aws.settings import AwsSettings

from tests.aws_doubles.moto_server import MotoServer, use_test_credentials


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto in server mode on 127.0.0.1 for the whole test session."""
    use_test_credentials()
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def aws_settings(moto_server: MotoServer) -> AwsSettings:
    """Settings pointing at moto, with a table prefix (and name stem) unique to the test."""
    stem = "t" + uuid.uuid4().hex[:10]
    return AwsSettings(
        endpoint_url=moto_server.url,
        table_prefix=stem,
        sync_interval_s=0.2,
        create_resources=True,
        options={"name_stem": stem},
    )


@pytest.fixture
def aws(aws_settings: AwsSettings) -> Iterator[Aws]:
    """boto3 clients for ``aws_settings``."""
    clients = Aws(aws_settings)
    yield clients
    clients.close()
