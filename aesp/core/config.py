"""Host configuration: one TOML file, validated once at start-up (GRID F1 step 1).

Unknown keys are refused (a misspelt setting must not be silently ignored), every value is
type- and range-checked, and every problem names the key and says what is allowed.
Relative paths are resolved against the configuration file's folder.
"""

from __future__ import annotations

import math
import re
import tomllib
import types
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, NoReturn, Union, get_args, get_origin, get_type_hints

from aesp.core.access import AccessConfig, parse_access
from aesp.core.errors import ConfigurationError

MODES = ("STRICT", "DEVELOPMENT")
COMPLIANCE = ("AESP", "GRID")


@dataclass(frozen=True)
class TlsConfig:
    """Certificates of the Host (PEM files).

    Attributes:
        ca: The CA that signs every certificate the Host trusts (clients, Runtimes).
        cert: The Host's own certificate (chain), presented on every listener.
        key: The private key of ``cert``; keep it readable by the Host's user only.
    """

    ca: Path = Path("pki/ca.pem")
    cert: Path = Path("pki/host.pem")
    key: Path = Path("pki/host.key")


@dataclass(frozen=True)
class LimitsConfig:
    """Timeouts, TTLs and sizes; defaults from SPEC §2.10, §2.12, C-44, C-45.

    Attributes:
        default_timeout_ms: Timeout of a call that names none.
        max_timeout_ms: Longest timeout a caller may ask for; longer requests are capped.
        default_session_ttl_seconds: Life of a session created without a TTL.
        max_session_ttl_seconds: Longest session TTL; longer requests are capped.
        max_message_bytes: Largest gRPC message either listener accepts.
        heartbeat_interval_ms: How often Runtimes must send a heartbeat.
        missed_heartbeats: Heartbeats missed in a row before a Runtime is detached.
        authorization_ttl_ms: Life of an ``AuthorizeToolCall`` grant for governed local
            execution.
        correlation_timeout_ms: How long a correlation id's bookkeeping is kept.
        idempotency_window_ms: How long a ``call_id`` is remembered, so a retried call returns
            the first outcome instead of running twice (C-44).
        max_dynamic_tools_per_session: Tools one session may register in DEVELOPMENT mode.
        max_sessions: Live sessions the Host holds at most; more are refused with
            ``RESOURCE_EXHAUSTED``.
    """

    default_timeout_ms: int = 30_000
    max_timeout_ms: int = 300_000
    default_session_ttl_seconds: int = 3_600
    max_session_ttl_seconds: int = 86_400
    max_message_bytes: int = 4 * 1024 * 1024
    heartbeat_interval_ms: int = 30_000
    missed_heartbeats: int = 3
    authorization_ttl_ms: int = 300_000
    correlation_timeout_ms: int = 600_000
    idempotency_window_ms: int = 300_000
    max_dynamic_tools_per_session: int = 50
    max_sessions: int = 100_000


@dataclass(frozen=True)
class BreakerConfig:
    """Per-Runtime circuit breaker (SPEC §2.10 Host defaults).

    Attributes:
        failure_threshold: Failures within ``failure_window_ms`` that open the breaker.
        failure_window_ms: The window failures are counted in.
        recovery_timeout_ms: How long an open breaker refuses before it lets a trial through.
        success_threshold: Successful trials in a row that close it again.
    """

    failure_threshold: int = 10
    failure_window_ms: int = 300_000
    recovery_timeout_ms: int = 600_000
    success_threshold: int = 3


@dataclass(frozen=True)
class GatewayConfig:
    """The API gateway of the client port (SPEC §3.4, §3.19 step 1, items 148, 207, 208).

    Attributes:
        principal_rate_per_s: Requests per second each principal may sustain.
        principal_burst: Requests a principal may make at once before the rate applies.
        tenant_rate_per_s: Requests per second all principals of one tenant may sustain.
        tenant_burst: Requests a tenant may make at once.
        max_request_bytes: Largest request message accepted (``MESSAGE_TOO_LARGE`` above).
        client_certificates: Accept a client certificate from the Host's CA as a credential
            (C-30: optional for clients). grpcio cannot ask for a certificate without requiring
            one, so ``host.client_listen`` then requires it, and tokens, API keys and passwords
            use ``host.client_tls_listen``; false makes ``client_listen`` ask for none.
    """

    principal_rate_per_s: float = 100.0
    principal_burst: int = 200
    tenant_rate_per_s: float = 1000.0
    tenant_burst: int = 2000
    max_request_bytes: int = 4 * 1024 * 1024
    client_certificates: bool = True

    def __post_init__(self) -> None:
        for key in ("principal_rate_per_s", "tenant_rate_per_s"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                _bad(f"gateway.{key}", "must be a number")
            if not math.isfinite(value) or value <= 0:
                _bad(f"gateway.{key}", "must be a positive number")
        for key in ("principal_burst", "tenant_burst", "max_request_bytes"):
            _positive_int(f"gateway.{key}", getattr(self, key))


# The algorithms OidcVerifier accepts by default (aesp.identity.jwks.DEFAULT_ALGORITHMS; a unit
# test keeps the two equal). Spelt out here so reading the configuration imports no crypto.
DEFAULT_OIDC_ALGORITHMS = ("RS256", "ES256", "PS256", "EdDSA")


@dataclass(frozen=True)
class OidcConfig:
    """``[identity.oidc]``: bearer JWTs of one enterprise IdP (DESIGN §9). Absent: refused.

    Attributes:
        issuer: The IdP's issuer URL; ``iss`` must equal it (HTTPS; HTTP only to loopback).
        audience: This Host's audience; ``aud`` must contain it.
        tenant: Every principal of this IdP belongs to this tenant. Set this or tenant_claim.
        tenant_claim: The verified claim naming the tenant (with ``tenants`` as allow-list).
        tenants: Tenants the IdP may name through ``tenant_claim``.
        algorithms: Accepted JWS algorithms (``none`` and ``HS*`` can never be configured).
        jwks_uri: Where the IdP publishes its keys; unset means OIDC discovery.
        leeway_s: Clock skew tolerated for ``exp``, ``nbf`` and ``iat``.
        groups_claim: The claim listing the principal's groups.
        cache_size: Verified tokens remembered (by digest) until they expire; 0 disables.
        jwks_timeout_s: Timeout of each key fetch.
        jwks_default_ttl_s: Key-set lifetime when the IdP sends no ``Cache-Control`` max-age.
        jwks_min_ttl_s: Shortest key-set lifetime, whatever the IdP says.
        jwks_max_ttl_s: Longest key-set lifetime, so removed keys are noticed.
        jwks_refetch_interval_s: Least time between fetches caused by unknown key ids.
        jwks_max_stale_s: How long an expired key set still serves while the IdP is down.
    """

    issuer: str
    audience: str
    tenant: str | None = None
    tenant_claim: str | None = None
    tenants: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = DEFAULT_OIDC_ALGORITHMS
    jwks_uri: str | None = None
    leeway_s: float = 30.0
    groups_claim: str = "groups"
    cache_size: int = 10_000
    jwks_timeout_s: float = 5.0
    jwks_default_ttl_s: float = 300.0
    jwks_min_ttl_s: float = 30.0
    jwks_max_ttl_s: float = 86_400.0
    jwks_refetch_interval_s: float = 10.0
    jwks_max_stale_s: float = 86_400.0

    def __post_init__(self) -> None:
        from aesp.identity.jwks import SUPPORTED_ALGORITHMS, check_key_url  # only when used

        section = "identity.oidc"
        for key in ("issuer", "jwks_uri"):
            url = getattr(self, key)
            try:
                if url is not None:
                    check_key_url(url)
            except ValueError as exc:
                _bad(f"{section}.{key}", f"is unusable: {exc}")
        for key in ("audience", "groups_claim"):
            if not getattr(self, key):
                _bad(f"{section}.{key}", "must not be empty")
        if (self.tenant is None) == (self.tenant_claim is None):
            _bad(f"{section}.tenant", "or tenant_claim must be set, and not both")
        if self.tenant is not None and not self.tenant:
            _bad(f"{section}.tenant", "must not be empty")
        if self.tenant_claim is not None and (not self.tenant_claim or not all(self.tenants)):
            _bad(f"{section}.tenant_claim", "needs a claim name and non-empty tenant names")
        if (self.tenant_claim is None) == bool(self.tenants):
            _bad(f"{section}.tenants", "lists the tenants tenant_claim may name (and only then)")
        if not self.algorithms:
            _bad(f"{section}.algorithms", "must not be empty")
        for alg in self.algorithms:
            if alg.lower() == "none" or alg.upper().startswith("HS"):
                _bad(f"{section}.algorithms", f"must not contain {alg}: unsigned or HMAC tokens")
            if alg not in SUPPORTED_ALGORITHMS:
                _bad(f"{section}.algorithms", f"has {alg!r}; use {sorted(SUPPORTED_ALGORITHMS)}")
        _non_negative_int(f"{section}.cache_size", self.cache_size)
        for f in fields(self):
            if f.name.endswith("_s") and not (
                math.isfinite(getattr(self, f.name)) and getattr(self, f.name) >= 0
            ):
                _bad(f"{section}.{f.name}", "must be a non-negative number of seconds")
        if self.jwks_min_ttl_s > self.jwks_max_ttl_s:
            _bad(f"{section}.jwks_min_ttl_s", "must not exceed jwks_max_ttl_s")


_API_KEY_PREFIX = re.compile(r"[a-z][a-z0-9]{0,15}")


@dataclass(frozen=True)
class ApiKeysConfig:
    """``[identity.api_keys]``: API keys of service accounts (DESIGN §9, items 151-152).

    Attributes:
        prefix: The prefix of issued keys (``<prefix>_<key id>_<secret>``).
        pepper_file: The secret the stored key hashes are keyed with. Unset: the local
            profile uses ``<data_dir>/api_keys.pepper``, created (32 random bytes, mode 0600) on
            first start. A file named here must already exist: creating a new pepper would
            silently invalidate every issued key.
    """

    prefix: str = "aesp"
    pepper_file: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not _API_KEY_PREFIX.fullmatch(self.prefix):
            _bad("identity.api_keys.prefix", "must be 1-16 lower-case letters and digits")


@dataclass(frozen=True)
class LdapUserSearchConfig:
    """``[identity.ldap.user_search]``: find users with a service account, then bind as them.

    Attributes:
        bind_dn: The service account's DN.
        bind_password: Its password; prefer ``bind_password_file``.
        bind_password_file: A file holding the password (trailing newline ignored).
        base_dn: Where users live (subtree search).
        attribute: The login-name attribute (``uid``, ``sAMAccountName``, ``mail``).
        object_filter: A filter every user entry must match.
    """

    bind_dn: str
    base_dn: str
    bind_password: str = field(default="", repr=False)
    bind_password_file: Path | None = None
    attribute: str = "uid"
    object_filter: str = "(objectClass=person)"

    def __post_init__(self) -> None:
        if bool(self.bind_password) == (self.bind_password_file is not None):
            _bad("identity.ldap.user_search.bind_password", "or bind_password_file: set one")


@dataclass(frozen=True)
class LdapConfig:
    """``[identity.ldap]``: user name and password checked by binding to a directory.

    The fields are those of :class:`aesp.identity.ldap.LdapSettings` (which documents them and
    checks them again when the Host starts), plus ``cache_ttl_s``.

    Attributes:
        cache_ttl_s: How long a successful bind is remembered (keyed by a keyed hash of the
            credential, never the password), so a client sending Basic on every call does not
            bind every call. 0 binds every time.
    """

    url: str
    tenant_id: str
    user_dn_template: str | None = None
    user_search: LdapUserSearchConfig | None = None
    group_lookup: str = "member_of"
    group_base: str | None = None
    group_object_class: str = "groupOfNames"
    group_member_attribute: str = "member"
    group_to_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    display_name_attribute: str = "displayName"
    disabled_filter: str | None = None
    connect_timeout_s: float = 5.0
    receive_timeout_s: float = 10.0
    start_tls: bool = False
    tls_ca_file: Path | None = None
    allow_cleartext: bool = False
    check_whoami: bool = True
    cache_ttl_s: float = 60.0

    def __post_init__(self) -> None:
        for key in ("url", "tenant_id"):
            if not getattr(self, key):
                _bad(f"identity.ldap.{key}", "must not be empty")
        if (self.user_dn_template is None) == (self.user_search is None):
            _bad("identity.ldap.user_dn_template", "or [identity.ldap.user_search]: set one")
        if self.group_lookup not in ("member_of", "group_search"):
            _bad("identity.ldap.group_lookup", "must be 'member_of' or 'group_search'")
        if not (math.isfinite(self.cache_ttl_s) and 0 <= self.cache_ttl_s <= 3600):
            _bad("identity.ldap.cache_ttl_s", "must be between 0 and 3600 seconds")


@dataclass(frozen=True)
class SamlConfig:
    """``[identity.saml]``: signed SAML 2.0 responses of one IdP, exchanged for a Host token.

    The fields are those of :class:`aesp.identity.saml.SamlSettings` (which documents them and
    checks them again, with the metadata and ``xmlsec1``, when the Host starts), except:

    * ``idp_metadata`` is a file (resolved against the configuration file's folder);
    * a list left unset (``mfa_authn_contexts``, ``signature_algorithms``,
      ``digest_algorithms``) means the verifier's defaults (SHA-2 only);
    * ``allow_idp_initiated`` is absent: the gateway is not the SP's assertion consumer and
      never sent the ``AuthnRequest``, so it verifies every response as unsolicited.

    Attributes:
        idp_metadata: The IdP's SAML metadata file; its signing certificates are the only keys
            trusted.
        sp_entity_id: This Host's SP entity id (the required audience).
        acs_url: This SP's Assertion Consumer Service URL (``Recipient``/``Destination``).
        xmlsec_binary: The ``xmlsec1`` program; found on ``PATH`` if unset.
    """

    idp_metadata: Path
    sp_entity_id: str
    acs_url: str
    idp_entity_id: str | None = None
    tenant_id: str | None = None
    tenant_attribute: str | None = None
    allowed_tenants: tuple[str, ...] = ()
    groups_attribute: str = "groups"
    display_name_attribute: str = "displayName"
    subject_attribute: str | None = None
    group_to_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    clock_skew_s: int = 60
    mfa_authn_contexts: tuple[str, ...] | None = None
    signature_algorithms: tuple[str, ...] | None = None
    digest_algorithms: tuple[str, ...] | None = None
    max_response_bytes: int = 512 * 1024
    xmlsec_binary: Path | None = None

    def __post_init__(self) -> None:
        section = "identity.saml"
        for key in ("sp_entity_id", "acs_url"):
            if not getattr(self, key):
                _bad(f"{section}.{key}", "must not be empty")
        if (self.tenant_id is None) == (self.tenant_attribute is None):
            _bad(f"{section}.tenant_id", "or tenant_attribute must be set, and not both")
        if self.tenant_id is not None and not self.tenant_id:
            _bad(f"{section}.tenant_id", "must not be empty")
        if (self.tenant_attribute is None) == bool(self.allowed_tenants) or not all(
            self.allowed_tenants
        ):
            _bad(f"{section}.allowed_tenants", "lists the tenants tenant_attribute may name")
        if isinstance(self.clock_skew_s, bool) or not 0 <= self.clock_skew_s <= 600:
            _bad(f"{section}.clock_skew_s", "must be between 0 and 600 seconds")
        for key in ("mfa_authn_contexts", "signature_algorithms", "digest_algorithms"):
            if getattr(self, key) == ():
                _bad(f"{section}.{key}", "must not be empty (leave it out for the defaults)")
        if isinstance(self.max_response_bytes, bool) or self.max_response_bytes < 1024:
            _bad(f"{section}.max_response_bytes", "must be at least 1024")


@dataclass(frozen=True)
class HostTokensConfig:
    """``[identity.host_tokens]``: session tokens the Host issues for SAML and LDAP logins.

    Attributes:
        ttl_s: Longest lifetime of a token in seconds; a token also ends with the login it was
            exchanged for (the SAML ``SessionNotOnOrAfter``), whichever comes first.
        key_file: The Ed25519 key (PKCS#8 PEM, mode 0600) the tokens are signed with. Every
            replica behind one load balancer must read the same key (mount one secret), or a
            token issued by one replica is refused by the others. It must exist: a configured
            key is never created. Unset: ``<data_dir>/host_tokens.key``, created when missing
            (one Host on one machine).
    """

    ttl_s: int = 900
    key_file: Path | None = None

    def __post_init__(self) -> None:
        _positive_int("identity.host_tokens.ttl_s", self.ttl_s)
        if self.ttl_s > 43_200:  # aesp.identity.host_tokens.MAX_TTL_S; STS's longest session
            _bad("identity.host_tokens.ttl_s", "must not exceed 43200 seconds (12 hours)")


@dataclass(frozen=True)
class IdentityConfig:
    """``[identity]``: which credentials the gateway accepts besides client certificates."""

    oidc: OidcConfig | None = None
    api_keys: ApiKeysConfig = field(default_factory=ApiKeysConfig)
    ldap: LdapConfig | None = None
    saml: SamlConfig | None = None
    host_tokens: HostTokensConfig = field(default_factory=HostTokensConfig)


# The ports a profile realises (DESIGN §5); [profile] may pick another profile for any of them.
PORTS = ("identity", "rbac", "policy", "audit", "governance", "cost", "tenancy", "config", "state")
_PROFILE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class ProfileConfig:
    """``[profile]``: which installed profile realises each port (DESIGN §6).

    Attributes:
        default: The profile of every port not overridden (``local``, ``aws``, ...).
        identity: Override for the Identity port; the other attributes likewise.
    """

    default: str = "local"
    identity: str | None = None
    rbac: str | None = None
    policy: str | None = None
    audit: str | None = None
    governance: str | None = None
    cost: str | None = None
    tenancy: str | None = None
    config: str | None = None
    state: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not _PROFILE_NAME.fullmatch(value):
                _bad(f"profile.{f.name}", "must be a lower-case identifier such as 'local'")

    def choice(self, ports: Iterable[str]) -> dict[str, str]:
        """The profile chosen for each of ``ports`` (its override, else ``default``).

        Raises:
            ValueError: A port name that is not one of :data:`PORTS` (a programming error).
        """
        unknown = sorted(set(ports) - set(PORTS))
        if unknown:
            raise ValueError(f"unknown port names {unknown}; ports are {', '.join(PORTS)}")
        return {port: getattr(self, port) or self.default for port in ports}


_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
_PRICES = ("price_per_call", "price_per_second", "price_per_kib")
_MAX_PRICE = 1e9  # currency units; keeps any call's cost within the ledger's 64-bit micros


@dataclass(frozen=True)
class ToolPriceConfig:
    """``[cost.tools.<tool>]``: one tool's own prices; a price left out is the ``[cost]`` one.

    Attributes:
        price_per_call: Per call, in currency units.
        price_per_second: Per second of execution, in currency units.
        price_per_kib: Per KiB of payload (arguments in plus result out), in currency units.
    """

    price_per_call: float | None = None
    price_per_second: float | None = None
    price_per_kib: float | None = None


@dataclass(frozen=True)
class CostConfig:
    """``[cost]``: the rate card the Host meters every call with (SPEC §3.13, C-37).

    Every call is metered (``API_CALL``, ``CPU`` and ``NETWORK`` usage records) and, before it
    is dispatched, reserves its largest possible cost on every budget it falls under
    (:mod:`aesp.core.metering` says why the largest). Prices are non-negative numbers of
    ``currency`` units; all zero (the default) meters usage at no cost.

    Attributes:
        currency: ISO-4217 code of every price, and of every budget a call can be held against.
        price_per_call: Charged once per call.
        price_per_second: Charged per second of execution (capped at the call's timeout).
        price_per_kib: Charged per KiB of payload, arguments in plus result out.
        tools: Per-tool overrides, by tool name (``[cost.tools.transfer]``).
        reservation_ttl_ms: How long a reservation outlives the call's own deadline when the
            Host never settles or releases it (a crash): its capacity then comes back by itself.
    """

    currency: str = "USD"
    price_per_call: float = 0.0
    price_per_second: float = 0.0
    price_per_kib: float = 0.0
    tools: Mapping[str, ToolPriceConfig] = field(default_factory=dict, hash=False)
    reservation_ttl_ms: int = 60_000

    def __post_init__(self) -> None:
        if not isinstance(self.currency, str) or not _CURRENCY_CODE.fullmatch(self.currency):
            _bad("cost.currency", "must be an ISO-4217 code such as 'USD'")
        prices = [(f"cost.{k}", getattr(self, k)) for k in _PRICES]
        for tool, rates in self.tools.items():
            if not tool or not isinstance(rates, ToolPriceConfig):
                _bad(f"cost.tools.{tool}", "must be a table of prices under a tool name")
            prices += [(f"cost.tools.{tool}.{k}", getattr(rates, k)) for k in _PRICES]
        for key, price in prices:
            if price is None:
                continue
            if isinstance(price, bool) or not isinstance(price, int | float):
                _bad(key, "must be a number")
            if not math.isfinite(price) or not 0 <= price <= _MAX_PRICE:
                _bad(key, f"must be a price between 0 and {_MAX_PRICE:g}")
        _positive_int("cost.reservation_ttl_ms", self.reservation_ttl_ms)


POLICY_CHANGES = ("approval", "direct")
BUDGET_CHANGES = ("approval", "direct")


@dataclass(frozen=True)
class GovernanceConfig:
    """``[governance]``: which administrative changes wait for a second administrator.

    Attributes:
        policy_changes: ``"approval"`` (the default, and the only AESP-compliant value, SPEC
            checklist 165): ``CreatePolicy``, ``UpdatePolicy`` and ``DeletePolicy`` validate
            the change and submit it as a ``POLICY_V1`` approval request; nothing is enforced
            until another administrator approves it. ``"direct"``: the change is in force as
            soon as the RPC returns, with no approval; for development Hosts only, **not
            AESP-compliant** (item 165). Dry runs never need approval either way.
        budget_changes: ``"approval"`` (the default, and the only AESP-compliant value: SPEC
            §3.13 makes budgets governance artifacts, ``BUDGET_V1``): ``CreateBudget`` and
            ``SetBudgetAlerts`` validate the change and submit it as a ``BUDGET_V1`` approval
            request; no call is held to it until another administrator approves it.
            ``"direct"``: the budget is stored and in force as soon as the RPC returns, with
            no approval; for development Hosts only, **not AESP-compliant**.
    """

    policy_changes: str = "approval"
    budget_changes: str = "approval"

    def __post_init__(self) -> None:
        if self.policy_changes not in POLICY_CHANGES:
            _bad(
                "governance.policy_changes",
                f"must be one of {', '.join(POLICY_CHANGES)}, not {self.policy_changes!r}",
            )
        if self.budget_changes not in BUDGET_CHANGES:
            _bad(
                "governance.budget_changes",
                f"must be one of {', '.join(BUDGET_CHANGES)}, not {self.budget_changes!r}",
            )


TRACE_EXPORTERS = ("off", "console", "otlp")
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class ObservabilityConfig:
    """``[observability]``: metrics, traces and log format (:mod:`aesp.observability`).

    Attributes:
        metrics_listen: ``host:port`` of the plain-HTTP endpoint serving Prometheus metrics
            (``/metrics``) and unauthenticated probes (``/healthz``, ``/readyz``); empty (the
            default) serves nothing, so a Host opens no unencrypted port unless asked to.
        traces: ``"off"`` (the default: no span is ever built), ``"console"`` (spans as JSON
            on standard output) or ``"otlp"`` (OTLP over HTTP to ``otlp_endpoint``).
        otlp_endpoint: The collector's traces URL; empty means the exporter's own default
            (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``http://localhost:4318/v1/traces``).
        service_name: ``service.name`` of the Host's spans.
        log_format: ``"text"`` or ``"json"`` (one JSON object per line) for ``aesp serve``.
        budget_refresh_s: How often budget use is read from the Cost port for the metrics.
        max_budget_series: At most this many budgets are exported (bounds label cardinality).
    """

    metrics_listen: str = ""
    traces: str = "off"
    otlp_endpoint: str = ""
    service_name: str = "aesp-host"
    log_format: str = "text"
    budget_refresh_s: float = 30.0
    max_budget_series: int = 1000

    def __post_init__(self) -> None:
        if self.metrics_listen:
            host, sep, port = self.metrics_listen.rpartition(":")
            if not sep or not host or not port.isdigit() or int(port) > 65535:
                _bad("observability.metrics_listen", "must look like '127.0.0.1:9464'")
        if self.traces not in TRACE_EXPORTERS:
            _bad("observability.traces", f"must be one of {', '.join(TRACE_EXPORTERS)}")
        if self.log_format not in LOG_FORMATS:
            _bad("observability.log_format", f"must be one of {', '.join(LOG_FORMATS)}")
        if not isinstance(self.service_name, str) or not self.service_name:
            _bad("observability.service_name", "must be a non-empty string")
        refresh = self.budget_refresh_s
        if isinstance(refresh, bool) or not isinstance(refresh, int | float):
            _bad("observability.budget_refresh_s", "must be a number")
        if not math.isfinite(refresh) or refresh <= 0:
            _bad("observability.budget_refresh_s", "must be a positive number")
        _positive_int("observability.max_budget_series", self.max_budget_series)


@dataclass(frozen=True)
class HostConfig:
    """Everything the Host needs to start.

    Attributes:
        mode: ``STRICT`` (manifest only) or ``DEVELOPMENT`` (RegisterTools allowed).
        compliance: ``AESP`` (Level 3; refuses DEVELOPMENT, item 74) or ``GRID`` (Level 2).
        manifest_path: JSON manifest of trusted contracts (required in STRICT mode).
        client_listen: ``host:port`` of the client-facing service. With
            ``gateway.client_certificates`` it requires a client certificate (mutual TLS);
            without, it asks for none.
        client_tls_listen: ``host:port`` of a second client listener that asks for no client
            certificate (bearer tokens, API keys, passwords); empty means none. Needed because
            grpcio can require a client certificate or not ask for one, but not ask and accept
            its absence (C-30 wants certificates optional); see aesp/server/app.py.
        runtime_listen: ``host:port`` of the Runtime-facing service.
        data_dir: Where the Host keeps its files (the audit log).
        trust_domain: SPIFFE trust domain of certificate identities.
        gateway: Rate limits, size limit and credential types of the client port.
        identity: Identity providers and API keys the gateway verifies credentials with.
        profile: Which installed profile realises each port.
        access: How verified identities map to roles and clearance (``[access]``,
            :mod:`aesp.core.access`); empty grants nothing.
        cost: The rate card calls are metered with (``[cost]``).
        governance: Which administrative changes need approval (``[governance]``).
        observability: Metrics, traces and log format (``[observability]``).
        adapters: Per-profile adapter settings (``[adapters.<profile>]`` tables), passed to
            the adapters as parsed TOML; each adapter validates its own table.
    """

    mode: str = "STRICT"
    compliance: str = "AESP"
    manifest_path: Path | None = None
    client_listen: str = "127.0.0.1:7443"
    client_tls_listen: str = ""
    runtime_listen: str = "127.0.0.1:7444"
    data_dir: Path = Path(".aesp")
    trust_domain: str = "aesp.local"
    tls: TlsConfig = field(default_factory=TlsConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    cost: CostConfig = field(default_factory=CostConfig)
    governance: GovernanceConfig = field(default_factory=GovernanceConfig)
    observability: ObservabilityConfig = field(default_factory=ObservabilityConfig)
    adapters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            _bad("host.mode", f"must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.compliance not in COMPLIANCE:
            _bad("host.compliance", f"must be one of {', '.join(COMPLIANCE)}")
        if self.compliance == "AESP" and self.mode == "DEVELOPMENT":
            raise ConfigurationError(
                "INCOMPATIBLE_MODE",
                "An AESP Host cannot run in DEVELOPMENT mode: runtimes may never define tools "
                "in an enterprise deployment (SPEC checklist 74).",
                remediation_steps=(
                    'Set host.mode = "STRICT" and list the tools in the manifest, or',
                    'set host.compliance = "GRID" for a non-production development Host.',
                ),
            )
        for section in (self.limits, self.breaker):
            for f in fields(section):
                value = getattr(section, f.name)
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    _bad(f"{type(section).__name__}.{f.name}", "must be a positive integer")
        if self.limits.default_timeout_ms > self.limits.max_timeout_ms:
            _bad("limits.default_timeout_ms", "must not exceed limits.max_timeout_ms")
        for key in ("client_listen", "runtime_listen", "client_tls_listen"):
            if key == "client_tls_listen" and not self.client_tls_listen:
                continue
            host, sep, port = getattr(self, key).rpartition(":")
            if not sep or not host or not port.isdigit() or int(port) > 65535:
                _bad(f"host.{key}", "must look like '127.0.0.1:7443' (port 0 picks a free one)")


def _bad(key: str, why: str) -> NoReturn:
    raise ConfigurationError("INVALID_CONFIG", f"Configuration key '{key}' {why}.")


def _positive_int(key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        _bad(key, "must be a positive integer")


def _non_negative_int(key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _bad(key, "must be a non-negative integer")


_SECTIONS: Mapping[str, type] = {
    "tls": TlsConfig,
    "limits": LimitsConfig,
    "breaker": BreakerConfig,
    "gateway": GatewayConfig,
    "identity": IdentityConfig,
    "profile": ProfileConfig,
    "cost": CostConfig,
    "governance": GovernanceConfig,
    "observability": ObservabilityConfig,
}


def _path(key: str, value: Any, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        _bad(key, "must be a non-empty path string")
    p = Path(value)
    return p if p.is_absolute() else base / p


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _bad(key, "must be a list of strings")
    return tuple(value)


def _value(hint: Any, value: Any, key: str, base: Path) -> Any:
    """Check and convert one TOML value to the field's declared type."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):  # ``X | None``: TOML has no null, so a value is X
        (inner,) = (a for a in args if a is not type(None))
        return _value(inner, value, key, base)
    if isinstance(hint, type) and is_dataclass(hint):
        return _section(hint, value, key, base)
    if hint is Path:
        return _path(key, value, base)
    if hint is bool:
        if not isinstance(value, bool):
            _bad(key, "must be true or false")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _bad(key, "must be an integer")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            _bad(key, "must be a number")
        return float(value)
    elif hint is str:
        if not isinstance(value, str):
            _bad(key, "must be a string")
    elif origin is tuple:
        return _strings(key, value)
    elif origin is Mapping and isinstance(args[1], type) and is_dataclass(args[1]):
        if not isinstance(value, dict):  # name -> table, e.g. [cost.tools.<tool>]
            _bad(key, "must be a table")
        return {k: _section(args[1], v, f"{key}.{k}", base) for k, v in value.items()}
    elif origin is Mapping:  # group -> role or roles
        if not isinstance(value, dict):
            _bad(key, "must be a table")
        return {
            k: (v,) if isinstance(v, str) else _strings(f"{key}.{k}", v) for k, v in value.items()
        }
    return value


def _section(cls: type, raw: Any, name: str, base: Path) -> Any:
    """Build the dataclass ``cls`` from the TOML table ``raw`` found at ``name``."""
    if not isinstance(raw, dict):
        _bad(name, "must be a table")
    hints = get_type_hints(cls)
    # Under [host], the other sections are not settings (``host.tls`` is a misplaced table).
    known = {
        f.name: f
        for f in fields(cls)
        if cls is not HostConfig
        or (f.name not in _SECTIONS and f.name not in ("access", "adapters"))
    }
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            _bad(f"{name}.{key}", f"is not a setting; known settings: {', '.join(sorted(known))}")
        kwargs[key] = _value(hints[key], value, f"{name}.{key}", base)
    for f in known.values():
        if f.name not in kwargs and f.default is MISSING and f.default_factory is MISSING:
            _bad(f"{name}.{f.name}", "is required")
    return cls(**kwargs)


def _adapter_tables(raw: Any) -> dict[str, dict[str, Any]]:
    """The ``[adapters.<profile>]`` tables, kept as parsed; the adapters validate them."""
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        _bad("adapters", "must hold one table per profile, e.g. [adapters.aws]")
    return {name: dict(table) for name, table in raw.items()}


def parse_config(raw: Mapping[str, Any], *, base: Path) -> HostConfig:
    """Build a :class:`HostConfig` from parsed TOML.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` naming the key, or ``INCOMPATIBLE_MODE``.
    """
    unknown = set(raw) - {"host", "access", "adapters", *_SECTIONS}
    if unknown:
        sections = ", ".join(("host", *_SECTIONS, "access", "adapters"))
        _bad(sorted(unknown)[0], f"is not a section; sections: {sections}")
    host = raw.get("host", {})
    cfg = _section(HostConfig, host, "host", base)
    if "data_dir" not in host:
        cfg = replace(cfg, data_dir=base / ".aesp")
    extra = {
        name: _section(cls, raw[name], name, base) for name, cls in _SECTIONS.items() if name in raw
    }
    if "access" in raw:
        extra["access"] = parse_access(raw["access"])
    if "adapters" in raw:
        extra["adapters"] = _adapter_tables(raw["adapters"])
    if "tls" not in raw:
        extra["tls"] = TlsConfig(
            ca=base / "pki/ca.pem", cert=base / "pki/host.pem", key=base / "pki/host.key"
        )
    return replace(cfg, **extra)


def load_config(path: Path) -> HostConfig:
    """Read and validate a TOML configuration file.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` when the file is missing, not TOML, or invalid.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            "INVALID_CONFIG", f"The configuration file {path} does not exist."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError("INVALID_CONFIG", f"{path} is not valid TOML: {exc}.") from None
    return parse_config(raw, base=path.resolve().parent)
