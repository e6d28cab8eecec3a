"""The whole AWS test double a Host on the ``aws`` profile talks to: moto in server mode, plus
the fakes for what moto lacks (CloudTrail Lake ingestion, AppConfig deployments and
``appconfigdata``). One object starts, stops (an outage) and restarts all of them, and writes
the ``[adapters.aws]`` table that points a Host at them.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.aws_doubles.appconfig_fake import AppConfigFake
from tests.aws_doubles.cloudtrail_data_fake import CloudTrailDataFake
from tests.aws_doubles.moto_server import MotoServer, use_test_credentials


class FakeAws:
    """moto + the CloudTrail Lake and AppConfig fakes, on 127.0.0.1."""

    def __init__(self) -> None:
        use_test_credentials()
        self.moto = MotoServer()
        self.cloudtrail = CloudTrailDataFake()
        self.appconfig: AppConfigFake | None = None

    def start(self) -> FakeAws:
        """Start (or restart, keeping every resource) all three services."""
        self.moto.start()
        self.cloudtrail.start()
        if self.appconfig is None:
            self.appconfig = AppConfigFake(self.moto.url, poll_interval_s=0)
        self.appconfig.start()
        return self

    def stop(self) -> None:
        """Stop answering: every AWS call fails to connect until :meth:`start`."""
        if self.appconfig is not None:
            self.appconfig.stop()
        self.cloudtrail.stop()
        self.moto.stop()

    def adapter_table(self, stem: str = "", **extra: Any) -> dict[str, Any]:
        """An ``[adapters.aws]`` table for one deployment (Hosts given the same table share it).

        Args:
            stem: Prefix of every resource name; a fresh one when empty.
            extra: More keys (``sync_interval_s``...).
        """
        assert self.appconfig is not None, "start() first"
        stem = stem or "e" + uuid.uuid4().hex[:10]
        return {
            "endpoint_url": self.moto.url,
            "endpoints": {
                "cloudtrail-data": self.cloudtrail.url,
                "appconfig": self.appconfig.url,
                "appconfigdata": self.appconfig.url,
            },
            "table_prefix": stem,
            "create_resources": True,
            "sync_interval_s": 0.5,
            "audit_channel_arn": self.cloudtrail.add_channel(),
            "audit_bucket": f"{stem}-audit",
            "audit_retention_days": 1,
            **extra,
        }
