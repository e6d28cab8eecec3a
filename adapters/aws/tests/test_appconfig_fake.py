"""The AppConfig fake answers the real boto3 ``appconfig`` and ``appconfigdata`` clients: its
replies parse into the documented shapes, its errors into botocore's modelled exceptions, and
what it does not implement reaches moto through it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.aws_doubles.appconfig_fake import AppConfigFake
from tests.aws_doubles.moto_server import MotoServer


@pytest.fixture(scope="module")
def fake(moto_server: MotoServer) -> Iterator[AppConfigFake]:
    server = AppConfigFake(moto_server.url, poll_interval_s=0).start()
    yield server
    server.stop()


@pytest.fixture
def clients(fake: AppConfigFake) -> tuple[Any, Any]:
    session = boto3.session.Session(region_name="us-east-1")
    return (
        session.client("appconfig", endpoint_url=fake.url),
        session.client("appconfigdata", endpoint_url=fake.url),
    )


def _profile(appconfig: Any, name: str) -> tuple[str, str]:
    app = appconfig.create_application(Name=name)["Id"]  # forwarded to moto
    profile = appconfig.create_configuration_profile(
        ApplicationId=app, Name="settings", LocationUri="hosted"
    )["Id"]
    return app, profile


def test_a_deployed_version_reaches_a_configuration_session(clients: tuple[Any, Any]) -> None:
    appconfig, data = clients
    app, profile = _profile(appconfig, "fake-roundtrip")
    env = appconfig.create_environment(ApplicationId=app, Name="prod")
    assert (env["ApplicationId"], env["Name"], env["State"]) == (
        app,
        "prod",
        "READY_FOR_DEPLOYMENT",
    )
    strategy = appconfig.create_deployment_strategy(
        Name="now", DeploymentDurationInMinutes=0, FinalBakeTimeInMinutes=0, GrowthFactor=100
    )
    assert (strategy["GrowthFactor"], strategy["ReplicateTo"]) == (100.0, "NONE")

    token = data.start_configuration_session(
        ApplicationIdentifier=app,
        EnvironmentIdentifier="prod",
        ConfigurationProfileIdentifier=profile,
    )["InitialConfigurationToken"]
    empty = data.get_latest_configuration(ConfigurationToken=token)
    assert empty["Configuration"].read() == b""  # nothing deployed yet
    assert empty["NextPollIntervalInSeconds"] == 0

    version = appconfig.create_hosted_configuration_version(
        ApplicationId=app,
        ConfigurationProfileId=profile,
        Content=b'{"revision": 7}',
        ContentType="application/json",
        VersionLabel="r7",
    )["VersionNumber"]
    deployment = appconfig.start_deployment(
        ApplicationId=app,
        EnvironmentId=env["Id"],
        DeploymentStrategyId=strategy["Id"],
        ConfigurationProfileId=profile,
        ConfigurationVersion=str(version),
    )
    assert (deployment["DeploymentNumber"], deployment["State"]) == (1, "COMPLETE")
    assert deployment["ConfigurationVersion"] == str(version)
    again = appconfig.get_deployment(ApplicationId=app, EnvironmentId=env["Id"], DeploymentNumber=1)
    assert again["State"] == "COMPLETE" and again["VersionLabel"] == "r7"

    got = data.get_latest_configuration(ConfigurationToken=empty["NextPollConfigurationToken"])
    assert json.loads(got["Configuration"].read()) == {"revision": 7}
    assert (got["ContentType"], got["VersionLabel"]) == ("application/json", "r7")
    unchanged = data.get_latest_configuration(ConfigurationToken=got["NextPollConfigurationToken"])
    assert unchanged["Configuration"].read() == b""


def test_a_running_deployment_blocks_the_next_one(clients: tuple[Any, Any]) -> None:
    appconfig, _ = clients
    app, profile = _profile(appconfig, "fake-conflict")
    env = appconfig.create_environment(ApplicationId=app, Name="prod")["Id"]
    slow = appconfig.create_deployment_strategy(
        Name="slow", DeploymentDurationInMinutes=10, GrowthFactor=10
    )["Id"]
    version = appconfig.create_hosted_configuration_version(
        ApplicationId=app,
        ConfigurationProfileId=profile,
        Content=b"{}",
        ContentType="application/json",
    )["VersionNumber"]
    start = dict(
        ApplicationId=app,
        EnvironmentId=env,
        DeploymentStrategyId=slow,
        ConfigurationProfileId=profile,
        ConfigurationVersion=str(version),
    )
    assert appconfig.start_deployment(**start)["State"] == "DEPLOYING"
    assert appconfig.get_environment(ApplicationId=app, EnvironmentId=env)["State"] == "DEPLOYING"
    with pytest.raises(appconfig.exceptions.ConflictException, match="in progress"):
        appconfig.start_deployment(**start)


def test_unknown_resources_are_modelled_errors(clients: tuple[Any, Any]) -> None:
    appconfig, data = clients
    app, profile = _profile(appconfig, "fake-errors")
    with pytest.raises(appconfig.exceptions.ResourceNotFoundException) as caught:
        appconfig.get_environment(ApplicationId=app, EnvironmentId="nope")
    assert caught.value.response["Error"]["Message"] == "Environment nope not found"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(data.exceptions.ResourceNotFoundException) as session_error:
        data.start_configuration_session(
            ApplicationIdentifier=app,
            EnvironmentIdentifier="nope",
            ConfigurationProfileIdentifier=profile,
        )
    assert session_error.value.response["ResourceType"] == "Environment"
    with pytest.raises(data.exceptions.BadRequestException, match="invalid or was already used"):
        data.get_latest_configuration(ConfigurationToken="never-issued")
    with pytest.raises(ClientError) as moto_error:  # forwarded: moto's own 404
        appconfig.get_application(ApplicationId="missing")
    assert moto_error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_without_the_test_knob_the_session_interval_is_advised(moto_server: MotoServer) -> None:
    fake = AppConfigFake(moto_server.url).start()  # behaves as AWS: advises the session's interval
    try:
        session = boto3.session.Session(region_name="us-east-1")
        appconfig = session.client("appconfig", endpoint_url=fake.url)
        data = session.client("appconfigdata", endpoint_url=fake.url)
        app, profile = _profile(appconfig, "fake-interval")
        appconfig.create_environment(ApplicationId=app, Name="prod")
        advised = []
        for asked in ({}, {"RequiredMinimumPollIntervalInSeconds": 30}):
            token = data.start_configuration_session(
                ApplicationIdentifier=app,
                EnvironmentIdentifier="prod",
                ConfigurationProfileIdentifier=profile,
                **asked,
            )["InitialConfigurationToken"]
            reply = data.get_latest_configuration(ConfigurationToken=token)
            advised.append(reply["NextPollIntervalInSeconds"])
        assert advised == [60, 30]
    finally:
        fake.stop()
