"""The Enterprise admin operations as pure core code: identity, policy and tenants (C-41).

Identity and policy are AESP services (SPEC §3.7); tenants are an aesp extension service for
the Tenant Manager (SPEC §3.4, §3.14).

Each operation takes the caller's :class:`~aesp.core.security.SecurityContext`, checks the
permission ``aesp:<service>:<Rpc>``, acts on the resolved tenant only, audits its success and
its refusal, and returns core types; the gRPC servicers in ``aesp/server/servicers`` only
convert (STYLE convention 8).
"""

from __future__ import annotations

from aesp.core.admin._guard import ALL_TENANTS, NOT_FOUND_CODE
from aesp.core.admin.identity import IdentityAdmin
from aesp.core.admin.identity_types import (
    AuditSummary,
    AuditTrailQuery,
    IssuedServiceAccount,
    NewServiceAccount,
    PrincipalDetails,
    PrincipalView,
    RoleChange,
    ServiceAccountView,
)
from aesp.core.admin.policy import PolicyAdmin
from aesp.core.admin.policy_types import (
    Evaluation,
    EvaluationRequest,
    PolicyDeletion,
    PolicyTestCase,
    PolicyTestReport,
    PolicyTestResult,
    PolicyValidation,
    PolicyView,
)
from aesp.core.admin.tenants import TenantAdmin

__all__ = [
    "ALL_TENANTS",
    "NOT_FOUND_CODE",
    "AuditSummary",
    "AuditTrailQuery",
    "Evaluation",
    "EvaluationRequest",
    "IdentityAdmin",
    "IssuedServiceAccount",
    "NewServiceAccount",
    "PolicyAdmin",
    "PolicyDeletion",
    "PolicyTestCase",
    "PolicyTestReport",
    "PolicyTestResult",
    "PolicyValidation",
    "PolicyView",
    "PrincipalDetails",
    "PrincipalView",
    "RoleChange",
    "ServiceAccountView",
    "TenantAdmin",
]
