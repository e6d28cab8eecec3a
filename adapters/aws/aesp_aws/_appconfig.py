"""AppConfig as the Config port's change signal between Host replicas.

After a write commits, the writing Host publishes a hosted configuration version whose content
is ``{"revision": n}`` and deploys it to the environment; every Host follows that environment
through ``appconfigdata`` (``StartConfigurationSession``, then ``GetLatestConfiguration`` at the
interval the service advises: ``sync_interval_s`` rounded up, but at least the 15 s AppConfig
allows, so on AWS a signal takes 15 s or more) and, whenever a new
deployment arrives, catches its snapshot up from the DynamoDB log (:mod:`aesp_aws.config`).
The document is a signal, not the data: the follower always reads the log, so a deployment that
lands late or out of order can neither hide nor reorder a change, and no value (sensitive or
not) is copied into AppConfig.

Publishing never fails a write (the write has committed in DynamoDB): a refused or unreachable
publish (``ConflictException`` while another Host's deployment runs, an outage) is retried every
``sync_interval_s`` until a deployment carrying a revision at least as new has started. The
strategy must finish at once (0 minutes, 0 bake, growth 100 %), or deployments of later changes
would queue behind the bake time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aesp.core.errors import ConfigurationError
from aesp_aws._aws import Aws, error_code
from aesp_aws._dynamo import from_item, to_item

log = logging.getLogger(__name__)

IDS_ITEM = {"pk": "appconfig", "sk": "ids"}  # where Hosts find the resources create_resources made
CONTENT_TYPE = "application/json"
MIN_POLL_S = 15  # the smallest RequiredMinimumPollIntervalInSeconds appconfigdata accepts


@dataclass(frozen=True, slots=True)
class AppConfigIds:
    """The AppConfig resources of the Config port (ids, as CloudFormation outputs them)."""

    application: str
    environment: str
    profile: str
    strategy: str


_KEYS = {
    "application": ("appconfig_application_id", "the AppConfig application of the Config port"),
    "environment": ("appconfig_environment_id", "the AppConfig environment the Hosts follow"),
    "profile": ("appconfig_profile_id", "the hosted configuration profile of the Config port"),
    "strategy": ("appconfig_strategy_id", "an immediate AppConfig deployment strategy"),
}


async def resolve_ids(aws: Aws, table: str) -> AppConfigIds:
    """The resources named in ``[adapters.aws]``; with ``create_resources`` and none named, the
    ones recorded in ``table`` by the first Host, else new ones recorded there.

    Raises:
        ConfigurationError: ``INVALID_CONFIG``: an id is missing and resources are not created.
    """
    settings = aws.settings
    named = {field: settings.get(key, "") for field, (key, _) in _KEYS.items()}
    if all(named.values()) or not settings.create_resources:
        return AppConfigIds(**{f: settings.require(k, what) for f, (k, what) in _KEYS.items()})
    reply = await aws.call(
        "dynamodb", "get_item", TableName=table, Key=to_item(IDS_ITEM), ConsistentRead=True
    )
    if "Item" in reply:
        return AppConfigIds(**{f: str(from_item(reply["Item"])[f]) for f in _KEYS})
    ids = await _create(aws)
    try:
        await aws.call(
            "dynamodb",
            "put_item",
            TableName=table,
            Item=to_item({**IDS_ITEM, **{f: getattr(ids, f) for f in _KEYS}}),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except Exception as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        # NOTE: another Host started at the same moment and recorded its resources first; use
        # those (ours stay unused: this path exists only with create_resources, in development).
        return await resolve_ids(aws, table)
    return ids


async def _create(aws: Aws) -> AppConfigIds:
    name = f"{aws.settings.table_prefix}-config"
    app = (await aws.call("appconfig", "create_application", Name=name))["Id"]
    profile = await aws.call(
        "appconfig",
        "create_configuration_profile",
        ApplicationId=app,
        Name="aesp-config-revision",
        LocationUri="hosted",
        Type="AWS.Freeform",
    )
    env = await aws.call("appconfig", "create_environment", ApplicationId=app, Name="hosts")
    strategy = await aws.call(
        "appconfig",
        "create_deployment_strategy",
        Name=f"{name}-immediate",
        DeploymentDurationInMinutes=0,
        FinalBakeTimeInMinutes=0,
        GrowthFactor=100,
        GrowthType="LINEAR",
        ReplicateTo="NONE",
    )
    return AppConfigIds(app, env["Id"], profile["Id"], strategy["Id"])


class ChangeSignal:
    """Publishes this Host's commits as deployments and follows everyone's deployments.

    Args:
        aws: The clients.
        ids: The AppConfig resources.
        on_change: Called after each newly deployed document; catches the snapshot up.
    """

    def __init__(
        self, aws: Aws, ids: AppConfigIds, on_change: Callable[[], Awaitable[None]]
    ) -> None:
        self._aws = aws
        self.ids = ids
        self._on_change = on_change
        self._interval = aws.settings.sync_interval_s
        # AppConfig's data plane is polled no faster than it allows (15 s at least).
        self._poll_s = max(MIN_POLL_S, math.ceil(self._interval))
        self._wanted = 0  # the newest revision this Host committed
        self._published = 0  # the newest revision a deployment of ours carries
        self._kick = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Check that AppConfig knows the environment and the profile, then publish and follow
        in background tasks of the running loop. The data-plane session is opened by the
        follower (and reopened after any failure), so a Host starts before the first deployment.

        Raises:
            ConfigurationError: ``INVALID_CONFIG``: AppConfig does not know one of the ids.
            botocore errors: AppConfig cannot be reached (the caller maps them).
        """
        ids = self.ids
        try:
            await self._aws.call(
                "appconfig",
                "get_environment",
                ApplicationId=ids.application,
                EnvironmentId=ids.environment,
            )
            await self._aws.call(
                "appconfig",
                "get_configuration_profile",
                ApplicationId=ids.application,
                ConfigurationProfileId=ids.profile,
            )
        except Exception as exc:
            if error_code(exc) not in ("ResourceNotFoundException", "BadRequestException"):
                raise
            keys = ", ".join(key for key, _ in _KEYS.values())
            raise ConfigurationError(
                "INVALID_CONFIG",
                f"AppConfig refused the Config port's resources ({exc}). Check {keys} in "
                "[adapters.aws] against the deployment's outputs.",
            ) from exc
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="aesp-config-publish"),
            asyncio.create_task(self._follow_loop(), name="aesp-config-follow"),
        ]

    def committed(self, revision: int) -> None:
        """Tell the other Hosts (soon, in the background) that ``revision`` was written."""
        self._wanted = max(self._wanted, revision)
        self._kick.set()

    async def close(self) -> None:
        """Stop both tasks (a publish in flight is abandoned; the log already has the write)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _publish_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self._interval)
            self._kick.clear()
            wanted = self._wanted
            if wanted <= self._published:
                continue
            try:
                await self._publish(wanted)
                self._published = wanted
            except Exception as exc:  # retried at the next tick; the write itself is durable
                log.warning("config revision %d not yet deployed to AppConfig: %s", wanted, exc)

    async def _publish(self, revision: int) -> None:
        ids = self.ids
        version = await self._aws.call(
            "appconfig",
            "create_hosted_configuration_version",
            ApplicationId=ids.application,
            ConfigurationProfileId=ids.profile,
            Content=json.dumps({"revision": revision}).encode(),
            ContentType=CONTENT_TYPE,
            VersionLabel=f"revision-{revision}",
        )
        await self._aws.call(
            "appconfig",
            "start_deployment",
            ApplicationId=ids.application,
            EnvironmentId=ids.environment,
            DeploymentStrategyId=ids.strategy,
            ConfigurationProfileId=ids.profile,
            ConfigurationVersion=str(version["VersionNumber"]),
            Description=f"aesp config revision {revision}",
        )

    async def _follow_loop(self) -> None:
        token = ""
        while True:
            wait = self._interval
            try:
                if not token:
                    token = await self._start_session()
                reply: dict[str, Any] = await self._aws.call(
                    "appconfigdata", "get_latest_configuration", ConfigurationToken=token
                )
                token = str(reply["NextPollConfigurationToken"])
                wait = max(wait, float(reply.get("NextPollIntervalInSeconds", 0)))
                if await self._aws.run(reply["Configuration"].read):
                    await self._on_change()
            except Exception as exc:  # an outage: keep serving the snapshot, start over later
                log.warning("following AppConfig for config changes failed: %s", exc)
                token = ""
            await asyncio.sleep(wait)

    async def _start_session(self) -> str:
        reply = await self._aws.call(
            "appconfigdata",
            "start_configuration_session",
            ApplicationIdentifier=self.ids.application,
            EnvironmentIdentifier=self.ids.environment,
            ConfigurationProfileIdentifier=self.ids.profile,
            RequiredMinimumPollIntervalInSeconds=self._poll_s,
        )
        return str(reply["InitialConfigurationToken"])
