"""The ``[adapters.aws]`` table of the Host's configuration.

Common keys are typed here; each port's module reads its own keys through :meth:`AwsSettings.get`
and :meth:`AwsSettings.require`, so a missing resource name is reported once, at start-up, with
the key that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aesp.core.errors import ConfigurationError

SECTION = "aws"


def _bad(message: str) -> ConfigurationError:
    return ConfigurationError("INVALID_CONFIG", message)


@dataclass(frozen=True, slots=True)
class AwsSettings:
    """Where the AWS profile finds its services.

    Attributes:
        region: AWS region of every client.
        endpoint_url: One endpoint for every service (a test double, a VPC endpoint); empty
            means the public AWS endpoints.
        endpoints: Per-service endpoint overrides, e.g. ``{"cloudtrail-data": "https://..."}``.
        table_prefix: Prefix of the DynamoDB tables the adapter owns (``<prefix>-tenants``...).
        sync_interval_s: How often snapshots of cloud-held sources (IAM, Identity Center,
            AppConfig) are refreshed; a change there takes effect within this interval.
        create_resources: Create missing resources at start-up (DynamoDB tables, the KMS
            signing key, the audit bucket, the approval queue, state machine and its role, the
            AppConfig resources): development and tests only. Production deployments create
            them with ``deploy/aesp-aws.yaml`` and leave this off.
        options: The whole table, for the keys of individual ports.
    """

    region: str = "us-east-1"
    endpoint_url: str = ""
    endpoints: Mapping[str, str] = field(default_factory=dict)
    table_prefix: str = "aesp"
    sync_interval_s: float = 5.0
    create_resources: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> AwsSettings:
        """Build the settings from the ``[adapters.aws]`` table.

        Raises:
            ConfigurationError: ``INVALID_CONFIG``: A common key has the wrong type.
        """
        region = raw.get("region", "us-east-1")
        endpoint_url = raw.get("endpoint_url", "")
        endpoints = raw.get("endpoints", {})
        prefix = raw.get("table_prefix", "aesp")
        interval = raw.get("sync_interval_s", 5.0)
        create = raw.get("create_resources", False)
        if not isinstance(region, str) or not region:
            raise _bad("[adapters.aws] region must be a non-empty string, e.g. 'eu-west-1'.")
        if not isinstance(endpoint_url, str):
            raise _bad("[adapters.aws] endpoint_url must be a URL string.")
        if not isinstance(endpoints, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in endpoints.items()
        ):
            raise _bad("[adapters.aws] endpoints must map service names to URL strings.")
        if not isinstance(prefix, str) or not prefix.replace("-", "").isalnum():
            raise _bad("[adapters.aws] table_prefix must be letters, digits and '-'.")
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise _bad("[adapters.aws] sync_interval_s must be a positive number.")
        if not isinstance(create, bool):
            raise _bad("[adapters.aws] create_resources must be true or false.")
        return cls(
            region=region,
            endpoint_url=endpoint_url,
            endpoints=dict(endpoints),
            table_prefix=prefix,
            sync_interval_s=float(interval),
            create_resources=create,
            options=dict(raw),
        )

    @classmethod
    def from_config(cls, config: Any) -> AwsSettings:
        """The settings in a :class:`~aesp.core.config.HostConfig` (empty table: defaults)."""
        return cls.from_mapping(getattr(config, "adapters", {}).get(SECTION, {}))

    def endpoint(self, service: str) -> str | None:
        """The endpoint for ``service``: its override, else ``endpoint_url``, else None (AWS)."""
        return self.endpoints.get(service) or self.endpoint_url or None

    def table(self, name: str) -> str:
        """The DynamoDB table name for ``name`` (``<table_prefix>-<name>``)."""
        return f"{self.table_prefix}-{name}"

    def get(self, key: str, default: Any = None) -> Any:
        """A port-specific key of the table, or ``default``."""
        return self.options.get(key, default)

    def require(self, key: str, what: str) -> str:
        """A port-specific key that must be a non-empty string.

        Args:
            key: The key in ``[adapters.aws]``.
            what: What the key names, for the error (``"the KMS key that signs checkpoints"``).

        Raises:
            ConfigurationError: ``INVALID_CONFIG``: The key is missing or empty.
        """
        value = self.options.get(key, "")
        if not isinstance(value, str) or not value:
            raise _bad(
                f"[adapters.aws] {key} is required: it names {what}. Set it in the Host's "
                "configuration (deploy/aesp-aws.yaml creates the resource and prints its name)."
            )
        return value
