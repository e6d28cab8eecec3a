"""The ``aws`` profile's plugin: registers the AWS realisations of the ports (DESIGN §5, §6).

Each port opens its own :class:`~aesp_aws._aws.Aws` (its own boto3 clients and connection
pools), so one port's slow calls never queue behind another's.
The audit index (what ``QueryEvents`` reads) stays the local SQLite index: CloudTrail Lake is
the audit log's copy in AWS (``CloudTrailLakeSink``), but its queries take seconds to minutes,
too slow for a paged query API; DESIGN §5 lets a profile use the local realisation where its
cloud has no fitting service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aesp_local.audit_index import SqliteAuditIndex

from aesp.core.governance.workflows import WorkflowStore
from aesp.core.ports import (
    ApprovalStore,
    AuditArchive,
    AuditIndex,
    AuditSink,
    CheckpointSigner,
    ConfigStore,
    CostLedger,
    IdentityStore,
    PolicyStore,
    RoleStore,
    StateStore,
    TenantRegistry,
)
from aesp.core.registry import AdapterRegistry
from aesp.hookspecs import hookimpl
from aesp_aws._aws import Aws
from aesp_aws.audit_archive import S3AuditArchive
from aesp_aws.audit_sink import CloudTrailLakeSink
from aesp_aws.checkpoint_signer import KmsCheckpointSigner
from aesp_aws.config import AwsConfigStore
from aesp_aws.cost import DynamoCostLedger
from aesp_aws.governance import DynamoApprovalStore
from aesp_aws.identity import IdentityCenterStore
from aesp_aws.policies import DynamoPolicyStore
from aesp_aws.roles import IamRoleStore
from aesp_aws.settings import AwsSettings
from aesp_aws.state import DynamoStateStore
from aesp_aws.tenancy import DynamoTenantRegistry
from aesp_aws.workflows import DynamoWorkflowStore

DISTRIBUTION = "aesp-aws"
PROFILE = "aws"

_OPENERS: dict[type, Any] = {
    TenantRegistry: DynamoTenantRegistry,
    IdentityStore: IdentityCenterStore,
    RoleStore: IamRoleStore,
    PolicyStore: DynamoPolicyStore,
    StateStore: DynamoStateStore,
    ApprovalStore: DynamoApprovalStore,
    WorkflowStore: DynamoWorkflowStore,
    CostLedger: DynamoCostLedger,
    ConfigStore: AwsConfigStore,
    AuditSink: CloudTrailLakeSink,  # events copied to CloudTrail Lake
    CheckpointSigner: KmsCheckpointSigner,  # archived checkpoints signed with a KMS key
}


def aws_for(config: Any) -> Aws:
    """boto3 clients for the ``[adapters.aws]`` table of ``config``.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` naming the bad key.
    """
    return Aws(AwsSettings.from_config(config))


async def _archive(config: Any) -> S3AuditArchive:
    """The S3 Object Lock archive, told which KMS key signs what it stores."""
    aws = aws_for(config)
    signer = await KmsCheckpointSigner.open(aws)
    try:
        return await S3AuditArchive.open(aws, key_arn=signer.key_arn)
    finally:
        await signer.close()


def _opener(cls: Any) -> Any:
    async def build(config: Any) -> Any:
        return await cls.open(aws_for(config))

    return build


@hookimpl
def aesp_register_adapters(registry: AdapterRegistry) -> None:
    """Register every port this distribution realises for the ``aws`` profile."""
    for port, cls in _OPENERS.items():
        registry.add(port=port, profile=PROFILE, factory=_opener(cls), distribution=DISTRIBUTION)
    registry.add(port=AuditArchive, profile=PROFILE, factory=_archive, distribution=DISTRIBUTION)
    registry.add(
        port=AuditIndex,
        profile=PROFILE,
        factory=lambda c: SqliteAuditIndex(Path(c.data_dir) / "audit_index.sqlite3"),
        distribution=DISTRIBUTION,
    )
