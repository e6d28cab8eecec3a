"""Verifiers of enterprise credentials: OIDC bearer JWTs, LDAP binds, SAML assertions, API keys.

Each verifier turns a credential into a :class:`VerifiedIdentity` or raises
:class:`~aesp.core.errors.AuthenticationError` (``INVALID_CREDENTIALS`` for a bad credential,
``AUTHENTICATION_FAILED`` when the identity provider cannot be reached or is misconfigured).
They never decide what the identity may do: roles and permissions come from the RBAC port.
"""

from __future__ import annotations

from aesp.identity.types import VerifiedIdentity

__all__ = ["VerifiedIdentity"]
