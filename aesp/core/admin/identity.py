"""``EnterpriseIdentityService`` as core operations (SPEC §3.7 (1), items 151-154, C-39, C-41).

Each operation takes the caller's :class:`~aesp.core.security.SecurityContext` and runs in the
frame of :class:`~aesp.core.admin._guard.AdminGuard`: permission ``aesp:identity:<Rpc>``,
tenant resolution (``""`` = own tenant, ``"*"`` = every tenant for platform listings), audit of
success and refusal. Decisions made here, for the integrator to record:

* **The key is shown once.** ``CreateServiceAccount`` returns the complete key
  ``<prefix>_<key id>_<secret>`` (what a client presents as ``authorization: ApiKey <key>``)
  in ``ServiceAccountDetails.api_key`` *and* in ``secret``: the Host keeps only its peppered
  hash (:mod:`aesp.identity.apikeys`), so the two fields carry the one thing the caller must
  save, and a client reading either field works (item 151 asks for both).
* **Principal id** of a service account is ``api_key|<issuer>|<service_account_id>``, what
  the gateway's API-key verifier returns; ``GetPrincipalDetails`` and
  ``UpdatePrincipalRoles`` take that id.
* **Explicit permissions** become a tenant role ``sa-<service_account_id>`` assigned to the
  account, so they go through the same RBAC snapshot as every other grant.
* **No privilege escalation** (:mod:`aesp.core.admin._grants`): every permission conferred
  (or, for ``UpdatePrincipalRoles``, withdrawn), inherited ones included, must be held by the
  caller, unless the caller is a platform caller. Refused with ``PERMISSION_DENIED`` naming it.
* **Role changes are tenant-scoped**: they edit the principal's assignment in the resolved
  tenant; platform-wide assignments are listed but only changed by configuration. The principal
  must have a record in that tenant (it appears on first authenticated use); a principal of
  another tenant is "not found", the same answer as an id that exists nowhere.
* **Revocation and expiry** (item 152): the gateway reads the key record on every request, so a
  revoked or lapsed key is refused at once; the principal record is also marked inactive.
"""

from __future__ import annotations

from aesp.core.admin._accounts import ServiceAccountOps
from aesp.core.admin._principals import PrincipalOps

__all__ = ["IdentityAdmin"]


class IdentityAdmin(ServiceAccountOps, PrincipalOps):
    """The Identity Manager's admin operations over the control plane's ports.

    Build it once per Host: ``IdentityAdmin(host.control, pepper=pepper_for(config),
    key_prefix=config.identity.api_keys.prefix, audit_query=host.audit_query)``; the pepper must be the gateway's, so the
    keys it issues authenticate there.

    Args:
        control: The Host's control plane.
        pepper: The deployment's API-key pepper.
        key_prefix: Prefix of issued keys (``[identity.api_keys] prefix``).
        issuer: The issuer segment of service-account principal ids (the gateway's).
        clock_ms: Unix milliseconds.
        audit_query: The Host's AuditQuery port (``host.audit_query``) that the audit trail and
            summary read; None: this process's events only.

    Raises:
        ValueError: The pepper is shorter than the API-key module accepts.
    """
