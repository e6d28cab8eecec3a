"""The ``EnterpriseSecurityContext`` of a call, built by the Host from verified identity only.

SPEC §3.5.1 lists its fields; §3.19 step 2 and C-54 say where they come from: the verified
credential (principal, tenant, claims), the Identity port's principal record (organisation,
business unit, clearance) and the RBAC snapshot (roles, permissions). Roles, permissions or a
tenant sent by a caller are never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aesp.core.ports.identity import PrincipalType


@dataclass(frozen=True, slots=True)
class SecurityContext:
    """Who is calling and what they may do, as the pipeline decides on it.

    It is also the RBAC :class:`~aesp.core.rbac.Subject` of the call.

    Attributes:
        principal_id: The verified principal.
        tenant_id: The verified tenant.
        principal_type: User, service account or system account.
        claims: Verified claims of the credential.
        organization_id: Top-level enterprise id (principal record).
        business_unit: Department (principal record).
        cost_center: Cost centre (principal record).
        roles: Effective roles in the tenant, inherited ancestors included (RBAC snapshot).
        permissions: Effective grants in the tenant, wildcards kept (RBAC snapshot).
        security_clearance: From the principal record (C-32 levels).
        data_classification: From the principal record (C-32 levels).
        roles_hint: Roles the verified credential's groups map to by configuration.
        mfa_verified: Whether the IdP asserted multi-factor authentication.
        source: How the credential was verified (``oidc``, ``api_key``, ``certificate``, ...).
        source_ip: The caller's address.
        credential_expires_at_ms: When the credential stops being valid (0 = unknown).
        rbac_version: Version of the RBAC snapshot the roles came from.
    """

    principal_id: str
    tenant_id: str
    principal_type: PrincipalType = PrincipalType.USER
    claims: Mapping[str, str] = field(default_factory=dict, compare=False)
    organization_id: str = ""
    business_unit: str = ""
    cost_center: str = ""
    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    security_clearance: str = "PUBLIC"
    data_classification: str = "PUBLIC"
    roles_hint: tuple[str, ...] = ()
    mfa_verified: bool = False
    source: str = ""
    source_ip: str = ""
    credential_expires_at_ms: int = 0
    rbac_version: int = 0
