"""SAML 2.0 Web SSO: verify a signed ``<samlp:Response>`` from one IdP (pysaml2 + xmlsec1).

Why this module exists: a SAML response is a bearer credential that passes through the user's
browser, so everything in it is attacker-controlled until proven otherwise. pysaml2 does the XML
signature work (with the ``xmlsec1`` binary, keys taken *only* from the IdP's metadata, never
from the message), and this module adds the checks a verifier must not leave to defaults:

* **Signed only.** The assertion, or the response that contains it, must carry a valid
  signature by the configured IdP, with an allowed algorithm (no SHA-1). Unsigned, re-signed by
  another key, or modified after signing (NameID, attributes, conditions) is refused.
* **Addressed to us.** Every ``AudienceRestriction`` must name our SP entity id; the issuer must
  be the configured IdP; with ``request_id`` the response and every bearer
  ``SubjectConfirmationData`` must answer exactly that request (``InResponseTo``).
* **In time.** ``NotBefore``/``NotOnOrAfter`` of the conditions, of the bearer confirmation and
  the session are checked against an injectable clock with a configurable skew (pysaml2 checks
  them again against the system clock). An assertion without any ``NotOnOrAfter`` is refused,
  because it could never leave the replay cache.
* **Used once.** The assertion id is remembered until the assertion expires; a second use is a
  replay. :class:`InMemoryReplayCache` is bounded and per process; the Host's gateway passes a
  cache on its State port instead (:mod:`aesp.server.gateway.replay`), which replicas share, so
  a replay is refused by every replica.
* **No XML tricks.** DOCTYPE declarations (entity expansion) are refused before parsing,
  responses are size-limited, base64 is decoded strictly and never inflated, and encrypted
  assertions are refused (no SP decryption key is configured).

The principal is ``saml|<IdP entity id>|<subject>``, where the subject is a persistent NameID or a
configured attribute; a transient NameID changes every login, so it is refused unless a subject
attribute is configured. Every refusal of the credential is ``INVALID_CREDENTIALS`` with one of the
``MSG_*`` sentences; a broken IdP set-up (missing keys, xmlsec1 failing) is
``AUTHENTICATION_FAILED``.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import logging
import re
import shutil
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from defusedxml import ElementTree as SafeElementTree
from saml2 import BINDING_HTTP_POST, samlp
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.response import StatusError, UnsolicitedResponse
from saml2.saml import NAMEID_FORMAT_TRANSIENT, SCM_BEARER, Assertion
from saml2.sigver import BadSignature, MissingKey, SignatureError, SigverError, XmlsecError
from saml2.validate import ResponseLifetimeExceed, ToEarly
from saml2.xmldsig import (
    DIGEST_SHA256,
    DIGEST_SHA384,
    DIGEST_SHA512,
    SIG_ECDSA_SHA256,
    SIG_ECDSA_SHA384,
    SIG_ECDSA_SHA512,
    SIG_RSA_SHA256,
    SIG_RSA_SHA384,
    SIG_RSA_SHA512,
)

from aesp.core.errors import AuthenticationError, ConfigurationError
from aesp.identity.types import VerifiedIdentity

__all__ = [
    "DEFAULT_DIGEST_ALGORITHMS",
    "DEFAULT_MFA_AUTHN_CONTEXTS",
    "DEFAULT_SIGNATURE_ALGORITHMS",
    "MSG_AUDIENCE",
    "MSG_BAD_SIGNATURE",
    "MSG_EXPIRED",
    "MSG_IN_RESPONSE_TO",
    "MSG_ISSUER",
    "MSG_MALFORMED",
    "MSG_NO_EXPIRY",
    "MSG_REJECTED",
    "MSG_REPLAY",
    "MSG_STATUS",
    "MSG_SUBJECT",
    "MSG_TENANT",
    "MSG_UNSIGNED",
    "MSG_WEAK_ALGORITHM",
    "AssertionReplayCache",
    "InMemoryReplayCache",
    "ReplayCacheFullError",
    "SamlSettings",
    "SamlVerifier",
]

_log = logging.getLogger(__name__)
# pysaml2 logs every refused signature at ERROR, with xmlsec1's whole stderr. A NullHandler keeps
# that off the console when the application configured no logging; configured handlers still
# receive it.
logging.getLogger("saml2").addHandler(logging.NullHandler())

# --- the sentences of INVALID_CREDENTIALS refusals (stable; tests and clients may match them) ---
MSG_MALFORMED: Final = "The SAML response is not a well-formed, base64-encoded SAML 2.0 Response."
MSG_UNSIGNED: Final = (
    "The SAML response is not signed; only signed assertions or signed responses are accepted."
)
MSG_BAD_SIGNATURE: Final = (
    "The SAML response's signature is invalid or was not made by the configured identity provider."
)
MSG_WEAK_ALGORITHM: Final = "The SAML response is signed with an algorithm this service refuses."
MSG_ISSUER: Final = "The SAML response was not issued by the configured identity provider."
MSG_AUDIENCE: Final = "The SAML assertion is not addressed to this service provider."
MSG_EXPIRED: Final = "The SAML assertion is expired or not yet valid."
MSG_NO_EXPIRY: Final = "The SAML assertion has no NotOnOrAfter time, so it is not accepted."
MSG_REPLAY: Final = "The SAML assertion has already been used."
MSG_IN_RESPONSE_TO: Final = (
    "The SAML response does not answer this service's authentication request."
)
MSG_STATUS: Final = "The identity provider did not authenticate the user."
MSG_SUBJECT: Final = "The SAML assertion does not identify the user."
MSG_TENANT: Final = "The SAML assertion names no tenant this service accepts."
MSG_REJECTED: Final = "The SAML response failed validation."

_MSG_UNAVAILABLE: Final = (
    "SAML verification is unavailable because of the identity provider's configuration or the "
    "Host's SAML tooling; ask an administrator to check the SAML settings."
)

DEFAULT_SIGNATURE_ALGORITHMS: Final = frozenset(
    {
        SIG_RSA_SHA256,
        SIG_RSA_SHA384,
        SIG_RSA_SHA512,
        SIG_ECDSA_SHA256,
        SIG_ECDSA_SHA384,
        SIG_ECDSA_SHA512,
    }
)
"""XML-DSig signature methods accepted by default: SHA-2 only."""

DEFAULT_DIGEST_ALGORITHMS: Final = frozenset({DIGEST_SHA256, DIGEST_SHA384, DIGEST_SHA512})
"""XML-DSig digest methods accepted by default: SHA-2 only."""

DEFAULT_MFA_AUTHN_CONTEXTS: Final = frozenset(
    {
        "https://refeds.org/profile/mfa",
        "http://schemas.microsoft.com/claims/multipleauthn",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
    }
)
"""``AuthnContextClassRef`` values that mean multi-factor authentication."""

_DOCTYPE_RE: Final = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_SAML_ASSERTION_NS: Final = "{urn:oasis:names:tc:SAML:2.0:assertion}"
_MAX_SUBJECT_LENGTH: Final = 1024


class ReplayCacheFullError(RuntimeError):
    """The replay cache holds ``max_entries`` unexpired assertions and cannot take another."""


class AssertionReplayCache(Protocol):
    """Remembers used assertion ids until they expire (implement on the State port to share)."""

    def remember(self, key: str, expires_at: float, now: float) -> bool:
        """Record ``key`` until ``expires_at`` (epoch seconds).

        Args:
            key: ``<issuer>|<assertion id>``.
            expires_at: When the assertion stops being acceptable (skew included).
            now: The verifier's current time, epoch seconds.

        Returns:
            ``True`` if the key was new, ``False`` if it is already remembered (a replay).
        """
        ...


class InMemoryReplayCache:
    """A bounded, thread-safe, per-process :class:`AssertionReplayCache`.

    Expired ids are dropped lazily. When ``max_entries`` unexpired ids are held, a new one is
    refused with :class:`ReplayCacheFullError` (the verifier reports ``AUTHENTICATION_FAILED``)
    rather than forgetting an id early, which would re-open the replay window.

    Args:
        max_entries: Upper bound on remembered ids.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)

    def remember(self, key: str, expires_at: float, now: float) -> bool:
        """See :meth:`AssertionReplayCache.remember`.

        Raises:
            ReplayCacheFullError: The cache is full of unexpired ids.
        """
        with self._lock:
            self._purge(now)
            if key in self._expiry:
                return False
            if len(self._expiry) >= self._max:
                raise ReplayCacheFullError(f"{self._max} unexpired SAML assertions remembered")
            self._expiry[key] = expires_at
            heapq.heappush(self._heap, (expires_at, key))
            return True

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            expires_at, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == expires_at:
                del self._expiry[key]


@dataclass(frozen=True)
class SamlSettings:
    """One trusted IdP and this Host's SP identity.

    Exactly one tenant rule must be set: ``tenant_id`` (every user of this IdP is in that tenant)
    or ``tenant_attribute`` with ``allowed_tenants`` (the assertion names the tenant, and only
    listed tenants are accepted).

    Attributes:
        idp_metadata: The IdP's SAML metadata: XML text, or a :class:`~pathlib.Path` to a file.
            Its signing certificates are the only keys trusted.
        sp_entity_id: This service provider's entity id (the required audience).
        acs_url: This SP's Assertion Consumer Service URL (checked against ``Destination`` and
            ``Recipient``).
        idp_entity_id: Which IdP of the metadata to trust; needed only if it lists several.
        tenant_id: Fixed tenant of every identity from this IdP.
        tenant_attribute: Attribute naming the tenant (exactly one value).
        allowed_tenants: Tenants accepted from ``tenant_attribute``.
        groups_attribute: Attribute listing the user's groups.
        display_name_attribute: Attribute with a human-readable name.
        subject_attribute: Attribute used as the subject instead of the NameID (one value).
        group_to_roles: Maps a group name (case-insensitive) to one aesp role or several.
        clock_skew_s: Seconds of tolerated clock difference with the IdP.
        mfa_authn_contexts: ``AuthnContextClassRef`` values that set ``mfa``.
        signature_algorithms: Accepted XML-DSig signature methods.
        digest_algorithms: Accepted XML-DSig digest methods.
        allow_idp_initiated: Accept responses when no ``request_id`` is given (IdP-initiated
            SSO). Turn off to require SP-initiated logins only.
        max_response_bytes: Largest accepted base64 response.
        xmlsec_binary: Path of ``xmlsec1``; found on ``PATH`` if unset.
    """

    idp_metadata: str | Path
    sp_entity_id: str
    acs_url: str
    idp_entity_id: str | None = None
    tenant_id: str | None = None
    tenant_attribute: str | None = None
    allowed_tenants: frozenset[str] = frozenset()
    groups_attribute: str = "groups"
    display_name_attribute: str = "displayName"
    subject_attribute: str | None = None
    group_to_roles: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    clock_skew_s: int = 60
    mfa_authn_contexts: frozenset[str] = DEFAULT_MFA_AUTHN_CONTEXTS
    signature_algorithms: frozenset[str] = DEFAULT_SIGNATURE_ALGORITHMS
    digest_algorithms: frozenset[str] = DEFAULT_DIGEST_ALGORITHMS
    allow_idp_initiated: bool = True
    max_response_bytes: int = 512 * 1024
    xmlsec_binary: str | None = None


@dataclass(frozen=True, slots=True)
class _Checked:
    """What the semantic checks learnt about one assertion."""

    expires_at: float
    session_expires_at: float


def _config_error(message: str) -> ConfigurationError:
    return ConfigurationError("INVALID_CONFIG", f"SAML settings: {message}")


def _refuse(message: str, reason: str) -> AuthenticationError:
    _log.info("SAML response refused: %s", reason)
    return AuthenticationError("INVALID_CREDENTIALS", message)


def _unavailable(reason: str) -> AuthenticationError:
    _log.error("SAML verification unavailable: %s", reason)
    return AuthenticationError("AUTHENTICATION_FAILED", _MSG_UNAVAILABLE)


def _instant(value: str | None) -> float | None:
    """Parse an ``xs:dateTime`` (UTC when no offset is given) into epoch seconds."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _refuse(MSG_MALFORMED, f"bad time value {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _text(element: Any) -> str:
    text = getattr(element, "text", None)
    return text.strip() if isinstance(text, str) else ""


def _roles_map(mapping: Mapping[str, str | Sequence[str]]) -> dict[str, frozenset[str]]:
    result: dict[str, frozenset[str]] = {}
    for group, roles in mapping.items():
        role_list = (roles,) if isinstance(roles, str) else tuple(roles)
        for role in role_list:
            if not isinstance(role, str) or not role or "," in role or role != role.strip():
                raise _config_error(
                    f"role {role!r} of group {group!r} must be a non-empty name without commas "
                    "or surrounding spaces"
                )
        key = group.strip().casefold()
        result[key] = result.get(key, frozenset()) | frozenset(role_list)
    return result


class SamlVerifier:
    """Verifies base64 SAML responses (HTTP-POST binding) from one IdP for one SP.

    Args:
        settings: The IdP, the SP and the mapping rules (validated here).
        replay_cache: Where used assertion ids are remembered; a fresh
            :class:`InMemoryReplayCache` if omitted (one process only, see the module docstring).
        clock: Current time in epoch seconds, for the validity checks and the replay cache.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` when the settings or the metadata are unusable
            (no IdP, no signing certificate, xmlsec1 missing, bad tenant rule).
    """

    def __init__(
        self,
        settings: SamlSettings,
        *,
        replay_cache: AssertionReplayCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._validate(settings)
        self._replay: AssertionReplayCache = (
            replay_cache if replay_cache is not None else InMemoryReplayCache()
        )
        self._clock = clock
        self._roles = _roles_map(settings.group_to_roles)
        self._lock = threading.Lock()
        xmlsec = settings.xmlsec_binary or shutil.which("xmlsec1")
        if not xmlsec or not Path(xmlsec).is_file():
            raise _config_error(
                "the xmlsec1 program was not found; install the Debian package 'xmlsec1' or set "
                "xmlsec_binary"
            )
        self._solicited = self._client(xmlsec, allow_unsolicited=False)
        self._unsolicited = self._client(xmlsec, allow_unsolicited=True)
        metadata = self._solicited.config.metadata
        idps = sorted(metadata.identity_providers())
        if settings.idp_entity_id is not None:
            if settings.idp_entity_id not in idps:
                raise _config_error(f"IdP {settings.idp_entity_id!r} is not in the metadata")
            self._idp = settings.idp_entity_id
        elif len(idps) == 1:
            self._idp = idps[0]
        else:
            raise _config_error(
                f"the metadata lists {len(idps)} identity providers; set idp_entity_id"
            )
        if not metadata.certs(self._idp, "idpsso", "signing"):
            raise _config_error(f"the metadata has no signing certificate for {self._idp!r}")

    @staticmethod
    def _validate(s: SamlSettings) -> None:
        if not s.sp_entity_id or not s.acs_url:
            raise _config_error("sp_entity_id and acs_url must be set")
        if (s.tenant_id is None) == (s.tenant_attribute is None):
            raise _config_error("set exactly one of tenant_id and tenant_attribute")
        if s.tenant_id is not None and not s.tenant_id:
            raise _config_error("tenant_id must not be empty")
        if s.tenant_attribute is not None and not s.allowed_tenants:
            raise _config_error("tenant_attribute needs a non-empty allowed_tenants")
        if not 0 <= s.clock_skew_s <= 600:
            raise _config_error("clock_skew_s must be between 0 and 600")
        if not s.signature_algorithms or not s.digest_algorithms:
            raise _config_error("signature_algorithms and digest_algorithms must not be empty")
        if s.max_response_bytes < 1024:
            raise _config_error("max_response_bytes must be at least 1024")
        if isinstance(s.idp_metadata, Path):
            if not s.idp_metadata.is_file():
                raise _config_error(f"metadata file {s.idp_metadata} does not exist")
        elif not s.idp_metadata.lstrip().startswith("<"):
            raise _config_error("idp_metadata must be XML text or a pathlib.Path to a file")

    def _client(self, xmlsec: str, *, allow_unsolicited: bool) -> Saml2Client:
        s = self._settings
        if isinstance(s.idp_metadata, Path):
            metadata: dict[str, list[str]] = {"local": [str(s.idp_metadata)]}
        else:
            metadata = {"inline": [s.idp_metadata]}
        config = SPConfig()
        try:
            config.load(
                {
                    "entityid": s.sp_entity_id,
                    "xmlsec_binary": xmlsec,
                    "metadata": metadata,
                    "accepted_time_diff": s.clock_skew_s,
                    "allow_unknown_attributes": True,
                    "only_use_keys_in_metadata": True,
                    "delete_tmpfiles": True,
                    "service": {
                        "sp": {
                            "endpoints": {
                                "assertion_consumer_service": [(s.acs_url, BINDING_HTTP_POST)]
                            },
                            "want_assertions_or_response_signed": True,
                            "want_assertions_signed": False,
                            "want_response_signed": False,
                            "allow_unsolicited": allow_unsolicited,
                        }
                    },
                }
            )
            return Saml2Client(config=config)
        except Exception as exc:  # pysaml2 raises many types for bad metadata
            raise _config_error(f"cannot load the IdP metadata: {exc}") from exc

    @property
    def idp_entity_id(self) -> str:
        """The entity id of the trusted IdP."""
        return self._idp

    # ------------------------------------------------------------------ public API

    def verify(self, saml_response_b64: str, *, request_id: str | None) -> VerifiedIdentity:
        """Verify the ``SAMLResponse`` form value of an HTTP-POST binding.

        Args:
            saml_response_b64: The base64 text as posted (whitespace is ignored).
            request_id: The ``ID`` of the ``AuthnRequest`` this SP sent, for SP-initiated SSO;
                ``None`` for IdP-initiated SSO (allowed only with ``allow_idp_initiated``).

        Returns:
            The identity, with the mapped roles comma-joined in ``claims["roles"]``, the
            assertion's attributes (values comma-joined) and ``authn_context`` in ``claims``,
            and ``expires_at_ms`` from the assertion's ``NotOnOrAfter``.

        Raises:
            AuthenticationError: ``INVALID_CREDENTIALS`` with one of the ``MSG_*`` sentences when
                the response is refused; ``AUTHENTICATION_FAILED`` when the IdP's configuration or
                the SAML tooling is broken (for example a transient NameID without a subject
                attribute, missing keys, xmlsec1 failing, or a full replay cache).
        """
        s = self._settings
        if request_id is None and not s.allow_idp_initiated:
            raise _refuse(
                MSG_IN_RESPONSE_TO, "IdP-initiated response, but only SP-initiated allowed"
            )
        xml = self._decode(saml_response_b64)
        now = self._clock()

        # 1. Cheap checks on the still-unverified XML: they can only refuse, never accept, and
        #    give a precise sentence before xmlsec1 runs.
        try:
            unverified = self._parse(xml)
            self._check_structure(xml)
            self._check(unverified, request_id, now)
        except AuthenticationError:
            raise
        except Exception as exc:  # a shape the SAML schema allows but these checks did not expect
            raise _refuse(MSG_MALFORMED, f"{type(exc).__name__}: {exc}") from None

        # 2. Signatures (and pysaml2's own checks against the system clock).
        response, assertion, ava = self._verify_signed(xml, request_id)

        # 3. The same checks again, now on the verified objects.
        try:
            if response.id != unverified.id or assertion.id != unverified.assertion[0].id:
                raise _refuse(MSG_REJECTED, "verified and parsed responses differ")
            checked = self._check(response, request_id, now)
            identity = self._identity(assertion, ava, checked)
        except AuthenticationError:
            raise
        except Exception as exc:
            raise _refuse(MSG_REJECTED, f"{type(exc).__name__}: {exc}") from None
        key = f"{self._idp}|{assertion.id}"
        try:
            fresh = self._replay.remember(key, checked.expires_at + s.clock_skew_s, now)
        except Exception as exc:
            raise _unavailable(f"replay cache failed: {type(exc).__name__}: {exc}") from None
        if not fresh:
            raise _refuse(MSG_REPLAY, f"assertion {assertion.id!r} replayed")
        return identity

    # ------------------------------------------------------------------ steps

    def _decode(self, saml_response_b64: str) -> bytes:
        if not isinstance(saml_response_b64, str):
            raise _refuse(MSG_MALFORMED, "response is not text")
        compact = "".join(saml_response_b64.split())
        if not compact or len(compact) > self._settings.max_response_bytes:
            raise _refuse(MSG_MALFORMED, f"response length {len(compact)} out of range")
        try:
            xml = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            raise _refuse(MSG_MALFORMED, "response is not base64") from None
        if _DOCTYPE_RE.search(xml):
            raise _refuse(MSG_MALFORMED, "response carries a DOCTYPE or ENTITY declaration")
        return xml

    @staticmethod
    def _parse(xml: bytes) -> samlp.Response:
        try:
            response = samlp.response_from_string(xml)
        except Exception as exc:  # defusedxml and ElementTree raise several types
            raise _refuse(MSG_MALFORMED, f"unparsable XML: {exc}") from None
        if not isinstance(response, samlp.Response):
            raise _refuse(MSG_MALFORMED, "root element is not samlp:Response")
        return response

    @staticmethod
    def _check_structure(xml: bytes) -> None:
        """Refuse signature-wrapping shapes: a second assertion anywhere, or a repeated ID.

        pysaml2 verifies the element a signature references and then reads the top-level
        assertion; wrapping attacks hide the signed original elsewhere (``Extensions``,
        ``Advice``, ``Object``) next to a forged copy. One assertion and unique IDs leave no place
        to hide it.
        """
        try:
            root = SafeElementTree.fromstring(xml)
        except Exception as exc:  # defusedxml refuses entities, ElementTree malformed XML
            raise _refuse(MSG_MALFORMED, f"unparsable XML: {exc}") from None
        assertions = 0
        ids: set[str] = set()
        for element in root.iter():
            if element.tag in (
                f"{_SAML_ASSERTION_NS}Assertion",
                f"{_SAML_ASSERTION_NS}EncryptedAssertion",
            ):
                assertions += 1
            element_id = element.get("ID")
            if element_id is not None:
                if element_id in ids:
                    raise _refuse(MSG_REJECTED, f"ID {element_id!r} appears twice")
                ids.add(element_id)
        if assertions != 1:
            raise _refuse(MSG_REJECTED, f"{assertions} assertions in the document")

    def _verify_signed(
        self, xml: bytes, request_id: str | None
    ) -> tuple[samlp.Response, Assertion, Mapping[str, Sequence[Any]]]:
        """Run pysaml2: signatures via xmlsec1, conditions, subject confirmation."""
        client = self._unsolicited if request_id is None else self._solicited
        outstanding = None if request_id is None else {request_id: "/"}
        with self._lock:
            try:
                # binding=None: the XML is already decoded; pysaml2 would otherwise try to
                # zlib-inflate the HTTP-POST body, which the binding never uses.
                result = client.parse_authn_request_response(
                    xml.decode("utf-8"), None, outstanding=outstanding
                )
            except MissingKey as exc:
                raise _unavailable(f"no key for the issuer in the metadata: {exc}") from None
            except (SignatureError, XmlsecError, BadSignature) as exc:
                raise _refuse(MSG_BAD_SIGNATURE, f"signature check failed: {exc}") from None
            except SigverError as exc:
                raise _refuse(MSG_UNSIGNED, f"signature requirement not met: {exc}") from None
            except (ResponseLifetimeExceed, ToEarly) as exc:
                raise _refuse(MSG_EXPIRED, str(exc)) from None
            except UnsolicitedResponse as exc:
                raise _refuse(MSG_IN_RESPONSE_TO, str(exc)) from None
            except StatusError as exc:
                raise _refuse(MSG_STATUS, str(exc)) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise _unavailable(f"{type(exc).__name__}: {exc}") from None
            except Exception as exc:  # pysaml2 signals many checks with bare Exception
                raise _refuse(MSG_REJECTED, f"{type(exc).__name__}: {exc}") from None
            finally:
                self._forget_people(client)
        if (
            result is None
            or result.response is None
            or len(result.response.assertion) != 1
            or result.assertion is not result.response.assertion[0]
        ):
            raise _refuse(MSG_REJECTED, "pysaml2 returned no verified assertion")
        return result.response, result.assertion, result.ava or {}

    @staticmethod
    def _forget_people(client: Saml2Client) -> None:
        """Drop pysaml2's per-user session cache: the Host keeps identities, not pysaml2."""
        for subject in list(client.users.subjects()):
            try:
                client.users.remove_person(subject)
            except KeyError:
                continue

    def _check_signatures(self, response: samlp.Response) -> None:
        signatures = [response.signature] + [a.signature for a in response.assertion]
        present = [sig for sig in signatures if sig is not None]
        if not present:
            raise _refuse(MSG_UNSIGNED, "neither the response nor the assertion is signed")
        for sig in present:
            info = sig.signed_info
            method = info.signature_method.algorithm if info and info.signature_method else None
            digests = [ref.digest_method.algorithm for ref in (info.reference if info else [])]
            if method not in self._settings.signature_algorithms or any(
                d not in self._settings.digest_algorithms for d in digests
            ):
                raise _refuse(MSG_WEAK_ALGORITHM, f"algorithms {method!r} / {digests!r}")

    def _check(self, response: samlp.Response, request_id: str | None, now: float) -> _Checked:
        """Everything but the signature values; run on unverified and on verified objects."""
        s = self._settings
        if response.encrypted_assertion:
            raise _unavailable("encrypted assertions are not supported (no SP decryption key)")
        if len(response.assertion) != 1:
            raise _refuse(MSG_REJECTED, f"{len(response.assertion)} assertions instead of one")
        assertion = response.assertion[0]
        self._check_signatures(response)

        status = response.status
        code = status.status_code.value if status and status.status_code else None
        if code != samlp.STATUS_SUCCESS:
            raise _refuse(MSG_STATUS, f"status {code!r}")

        if response.issuer is not None and _text(response.issuer) != self._idp:
            raise _refuse(MSG_ISSUER, f"response issuer {_text(response.issuer)!r}")
        if _text(assertion.issuer) != self._idp:
            raise _refuse(MSG_ISSUER, f"assertion issuer {_text(assertion.issuer)!r}")

        conditions = assertion.conditions
        restrictions = conditions.audience_restriction if conditions else []
        if not restrictions or any(
            s.sp_entity_id not in {_text(a) for a in r.audience} for r in restrictions
        ):
            raise _refuse(MSG_AUDIENCE, "audience restriction missing or not naming this SP")

        if request_id is not None and response.in_response_to != request_id:
            raise _refuse(MSG_IN_RESPONSE_TO, f"InResponseTo {response.in_response_to!r}")

        skew = s.clock_skew_s
        not_after: list[float] = []
        not_before: list[float] = []
        if conditions is not None:
            for value, bucket in (
                (conditions.not_on_or_after, not_after),
                (conditions.not_before, not_before),
            ):
                parsed = _instant(value)
                if parsed is not None:
                    bucket.append(parsed)

        subject = assertion.subject
        bearers = [
            sc
            for sc in (subject.subject_confirmation if subject else [])
            if sc.method == SCM_BEARER
        ]
        if not bearers:
            raise _refuse(MSG_SUBJECT, "no bearer subject confirmation")
        for confirmation in bearers:
            data = confirmation.subject_confirmation_data
            if data is None or _instant(data.not_on_or_after) is None:
                raise _refuse(MSG_NO_EXPIRY, "bearer confirmation without NotOnOrAfter")
            if (data.recipient or "").strip() != s.acs_url:
                raise _refuse(MSG_AUDIENCE, f"recipient {data.recipient!r}")
            if request_id is not None and data.in_response_to != request_id:
                raise _refuse(MSG_IN_RESPONSE_TO, f"confirmation answers {data.in_response_to!r}")
            not_after.append(_instant(data.not_on_or_after) or 0.0)
            nb = _instant(data.not_before)
            if nb is not None:
                not_before.append(nb)

        if response.destination is not None and response.destination.strip() != s.acs_url:
            raise _refuse(MSG_AUDIENCE, f"destination {response.destination!r}")

        session_expires = 0.0
        for statement in assertion.authn_statement:
            parsed = _instant(statement.session_not_on_or_after)
            if parsed is not None:
                session_expires = parsed if not session_expires else min(session_expires, parsed)
                not_after.append(parsed)

        expires_at = min(not_after)
        if now - skew >= expires_at or any(now + skew < nb for nb in not_before):
            raise _refuse(MSG_EXPIRED, f"now={now:.0f} outside validity (until {expires_at:.0f})")
        return _Checked(expires_at=expires_at, session_expires_at=session_expires)

    # ------------------------------------------------------------------ identity

    @staticmethod
    def _attributes(
        assertion: Assertion, ava: Mapping[str, Sequence[Any]]
    ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Return (attributes by local name, attributes by every name they are known by)."""
        local = {str(k): [str(v).strip() for v in vals] for k, vals in ava.items()}
        every: dict[str, list[str]] = {k.casefold(): v for k, v in local.items()}
        for statement in assertion.attribute_statement:
            for attribute in statement.attribute:
                values = [_text(v) for v in attribute.attribute_value]
                for name in (attribute.name, attribute.friendly_name):
                    if name:
                        every.setdefault(name.casefold(), values)
        return local, every

    def _identity(
        self, assertion: Assertion, ava: Mapping[str, Sequence[Any]], checked: _Checked
    ) -> VerifiedIdentity:
        s = self._settings
        local, every = self._attributes(assertion, ava)

        def values(name: str | None) -> list[str]:
            return [v for v in every.get(name.casefold(), []) if v] if name else []

        if s.subject_attribute is not None:
            found = values(s.subject_attribute)
            if len(found) != 1:
                raise _refuse(MSG_SUBJECT, f"{len(found)} values of {s.subject_attribute!r}")
            subject = found[0]
        else:
            name_id = assertion.subject.name_id if assertion.subject else None
            if name_id is None:
                raise _refuse(MSG_SUBJECT, "no NameID")
            if name_id.format == NAMEID_FORMAT_TRANSIENT:
                raise _unavailable(
                    "the IdP sent a transient NameID; configure a persistent NameID or set "
                    "subject_attribute"
                )
            subject = _text(name_id)
        if (
            not subject
            or len(subject) > _MAX_SUBJECT_LENGTH
            or any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in subject)
        ):
            raise _refuse(MSG_SUBJECT, "empty, oversized or control characters in the subject")

        if s.tenant_id is not None:
            tenant = s.tenant_id
        else:
            found = values(s.tenant_attribute)
            if len(found) != 1 or found[0] not in s.allowed_tenants:
                raise _refuse(MSG_TENANT, f"tenant values {found!r}")
            tenant = found[0]

        groups = tuple(sorted(set(values(s.groups_attribute)), key=str.casefold))
        roles = sorted(set().union(*(self._roles.get(g.casefold(), frozenset()) for g in groups)))
        display = values(s.display_name_attribute)
        context = self._authn_context(assertion)

        claims = {name: ",".join(vals) for name, vals in local.items()}
        claims.update(
            roles=",".join(roles),
            authn_context=context,
            name_id_format=(
                assertion.subject.name_id.format or ""
                if assertion.subject and assertion.subject.name_id
                else ""
            ),
            assertion_id=assertion.id or "",
        )
        if checked.session_expires_at:
            claims["session_not_on_or_after_ms"] = str(int(checked.session_expires_at * 1000))
        return VerifiedIdentity(
            principal_id=f"saml|{self._idp}|{subject}",
            tenant_id=tenant,
            source="saml",
            issuer=self._idp,
            subject=subject,
            display_name=display[0] if display else "",
            groups=groups,
            claims=claims,
            expires_at_ms=int(checked.expires_at * 1000),
            mfa=context in s.mfa_authn_contexts,
        )

    @staticmethod
    def _authn_context(assertion: Assertion) -> str:
        refs: Iterable[str] = (
            _text(st.authn_context.authn_context_class_ref)
            for st in assertion.authn_statement
            if st.authn_context is not None and st.authn_context.authn_context_class_ref
        )
        return next(iter(refs), "")
