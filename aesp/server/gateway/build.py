"""Build the gateway from the Host's configuration: its verifiers, buckets and audit.

Everything that can be wrong in the configuration fails here, at start-up, with the setting's
name (an unusable OIDC issuer, LDAP or SAML settings, pepper or token-key file), never on a
caller's first request. pysaml2 and ldap3 are imported only when ``[identity.saml]`` or
``[identity.ldap]`` is configured, so a Host without them does not pay for importing them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aesp.core.audit import AuditLog
from aesp.core.config import HostConfig, LdapConfig, OidcConfig, SamlConfig
from aesp.core.errors import ConfigurationError
from aesp.core.ids import now_ms
from aesp.core.ports.identity import IdentityStore
from aesp.core.ports.state import BucketSpec, StateStore
from aesp.identity.host_tokens import HostTokenIssuer
from aesp.identity.jwks import JwksCache
from aesp.identity.oidc import FixedTenant, OidcVerifier, TenantFromClaim, TenantRule
from aesp.server.gateway.credentials import CredentialResolver
from aesp.server.gateway.gate import Gate
from aesp.server.gateway.interceptor import GatewayInterceptor
from aesp.server.gateway.limits import RateLimits
from aesp.server.gateway.pepper import pepper_for
from aesp.server.gateway.replay import StateReplayCache
from aesp.server.gateway.token_key import token_key_for
from aesp.server.gateway.verifiers import (
    ApiKeyVerifier,
    BasicVerifier,
    BearerVerifier,
    HostTokenFront,
    SamlFront,
)

if TYPE_CHECKING:
    from aesp.identity.ldap import LdapSettings
    from aesp.identity.saml import SamlSettings

__all__ = ["build_gateway", "host_token_issuer", "ldap_settings", "oidc_verifier", "saml_settings"]


def oidc_verifier(cfg: OidcConfig) -> OidcVerifier:
    """The verifier ``[identity.oidc]`` describes.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` for settings the verifier refuses.
    """
    tenant: TenantRule = (
        FixedTenant(cfg.tenant)
        if cfg.tenant is not None
        else TenantFromClaim(cfg.tenant_claim or "", frozenset(cfg.tenants))
    )
    try:
        jwks = JwksCache(
            cfg.issuer,
            cfg.jwks_uri,
            timeout_s=cfg.jwks_timeout_s,
            default_ttl_s=cfg.jwks_default_ttl_s,
            min_ttl_s=cfg.jwks_min_ttl_s,
            max_ttl_s=cfg.jwks_max_ttl_s,
            refetch_interval_s=cfg.jwks_refetch_interval_s,
            max_stale_s=cfg.jwks_max_stale_s,
        )
    except ValueError as exc:
        raise ConfigurationError("INVALID_CONFIG", f"identity.oidc: {exc}.") from None
    return OidcVerifier(
        issuer=cfg.issuer,
        audience=cfg.audience,
        tenant=tenant,
        algorithms=cfg.algorithms,
        jwks_uri=cfg.jwks_uri,
        leeway_s=cfg.leeway_s,
        groups_claim=cfg.groups_claim,
        cache_size=cfg.cache_size,
        jwks=jwks,
    )


def _read_secret(path: Path, key: str) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            "INVALID_CONFIG", f"Configuration key '{key}' names an unreadable file: {exc}."
        ) from None


def ldap_settings(cfg: LdapConfig) -> LdapSettings:
    """The :class:`LdapSettings` ``[identity.ldap]`` describes (secrets read from files)."""
    from aesp.identity.ldap import LdapSettings, LdapUserSearch  # ldap3: only when configured

    search = None
    if cfg.user_search is not None:
        s = cfg.user_search
        password = s.bind_password
        if s.bind_password_file is not None:
            key = "identity.ldap.user_search.bind_password_file"
            password = _read_secret(s.bind_password_file, key)
        search = LdapUserSearch(
            bind_dn=s.bind_dn,
            bind_password=password,
            base_dn=s.base_dn,
            attribute=s.attribute,
            object_filter=s.object_filter,
        )
    return LdapSettings(
        url=cfg.url,
        tenant_id=cfg.tenant_id,
        user_dn_template=cfg.user_dn_template,
        user_search=search,
        group_lookup="group_search" if cfg.group_lookup == "group_search" else "member_of",
        group_base=cfg.group_base,
        group_object_class=cfg.group_object_class,
        group_member_attribute=cfg.group_member_attribute,
        group_to_roles=dict(cfg.group_to_roles),
        display_name_attribute=cfg.display_name_attribute,
        disabled_filter=cfg.disabled_filter,
        connect_timeout_s=cfg.connect_timeout_s,
        receive_timeout_s=cfg.receive_timeout_s,
        start_tls=cfg.start_tls,
        tls_ca_file=str(cfg.tls_ca_file) if cfg.tls_ca_file is not None else None,
        allow_cleartext=cfg.allow_cleartext,
        check_whoami=cfg.check_whoami,
    )


def saml_settings(cfg: SamlConfig) -> SamlSettings:
    """The :class:`SamlSettings` ``[identity.saml]`` describes (unset lists: the defaults)."""
    from aesp.identity import saml  # pysaml2: only for a Host configured for SAML

    return saml.SamlSettings(
        idp_metadata=cfg.idp_metadata,
        sp_entity_id=cfg.sp_entity_id,
        acs_url=cfg.acs_url,
        idp_entity_id=cfg.idp_entity_id,
        tenant_id=cfg.tenant_id,
        tenant_attribute=cfg.tenant_attribute,
        allowed_tenants=frozenset(cfg.allowed_tenants),
        groups_attribute=cfg.groups_attribute,
        display_name_attribute=cfg.display_name_attribute,
        subject_attribute=cfg.subject_attribute,
        group_to_roles=dict(cfg.group_to_roles),
        clock_skew_s=cfg.clock_skew_s,
        mfa_authn_contexts=_or_default(cfg.mfa_authn_contexts, saml.DEFAULT_MFA_AUTHN_CONTEXTS),
        signature_algorithms=_or_default(
            cfg.signature_algorithms, saml.DEFAULT_SIGNATURE_ALGORITHMS
        ),
        digest_algorithms=_or_default(cfg.digest_algorithms, saml.DEFAULT_DIGEST_ALGORITHMS),
        # The gateway sent no AuthnRequest: every response it sees is unsolicited.
        allow_idp_initiated=True,
        max_response_bytes=cfg.max_response_bytes,
        xmlsec_binary=str(cfg.xmlsec_binary) if cfg.xmlsec_binary is not None else None,
    )


def _or_default(values: tuple[str, ...] | None, default: frozenset[str]) -> frozenset[str]:
    return default if values is None else frozenset(values)


def _saml_front(cfg: SamlConfig, state: StateStore) -> SamlFront:
    """The SAML front; used assertion ids are claimed on the State port, which every replica
    shares, so a replay is refused by all of them (:mod:`.replay`)."""
    from aesp.identity.saml import SamlVerifier  # pysaml2: only for a Host configured for SAML

    replays = StateReplayCache(state, asyncio.get_running_loop())
    return SamlFront(SamlVerifier(saml_settings(cfg), replay_cache=replays))


def host_token_issuer(
    config: HostConfig, *, clock_ms: Callable[[], int] = now_ms
) -> HostTokenIssuer:
    """The issuer of this Host's session tokens, keyed by ``<data_dir>/host_tokens.key``.

    The key file is created on first start (mode 0600) and kept across restarts.

    Raises:
        ConfigurationError: ``CONFIGURATION_ERROR`` when the key file is unusable.
    """
    return HostTokenIssuer(
        token_key_for(config),
        trust_domain=config.trust_domain,
        ttl_s=config.identity.host_tokens.ttl_s,
        clock=lambda: clock_ms() / 1000,
    )


def build_gateway(
    config: HostConfig,
    *,
    identity: IdentityStore,
    state: StateStore,
    audit: AuditLog,
    clock_ms: Callable[[], int] = now_ms,
) -> GatewayInterceptor:
    """The client port's gateway, configured by ``[gateway]`` and ``[identity]``.

    Args:
        config: The Host's configuration.
        identity: Where API-key records are looked up.
        state: Where the rate-limit buckets live.
        audit: Where authentication events and the gateway's refusals are recorded.
        clock_ms: Unix milliseconds for API-key expiry, the buckets and session tokens.

    Returns:
        The interceptor; put it after :class:`~aesp.server.tls.RequireTls13Interceptor`.

    Raises:
        ConfigurationError: An unusable identity setting (SAML metadata, xmlsec1 missing, ...),
            pepper file or session-token key file.
    """
    gw, ids = config.gateway, config.identity
    bearer = BearerVerifier(oidc_verifier(ids.oidc)) if ids.oidc is not None else None
    api_keys = ApiKeyVerifier(
        identity, pepper=pepper_for(config), prefix=ids.api_keys.prefix, clock_ms=clock_ms
    )
    basic = None
    if ids.ldap is not None:
        from aesp.identity.ldap import LdapAuthenticator

        ldap = LdapAuthenticator(ldap_settings(ids.ldap))
        basic = BasicVerifier(ldap, cache_ttl_s=ids.ldap.cache_ttl_s)
    saml = _saml_front(ids.saml, state) if ids.saml is not None else None
    issuer = host_token_issuer(config, clock_ms=clock_ms)
    credentials = CredentialResolver(
        trust_domain=config.trust_domain,
        accept_certificates=gw.client_certificates,
        bearer=bearer,
        api_keys=api_keys,
        basic=basic,
        saml=saml,
        host_tokens=HostTokenFront(issuer.verifier()),
        issuer=issuer,
    )
    limits = RateLimits(
        state,
        principal=BucketSpec(gw.principal_rate_per_s, gw.principal_burst),
        tenant=BucketSpec(gw.tenant_rate_per_s, gw.tenant_burst),
        clock_ms=clock_ms,
    )
    gate = Gate(
        credentials=credentials, limits=limits, audit=audit, max_request_bytes=gw.max_request_bytes
    )
    return GatewayInterceptor(gate)
