"""Workload identity: SPIFFE IDs and the identity carried by a verified X.509 certificate.

The Host decides who a Runtime or client is from the certificate it verified during the mutual
TLS handshake, never from what the peer says about itself (SPEC C-2, C-40). This module turns
that certificate into plain, immutable values the core can reason about:

* ``SpiffeId`` -- the parsed ``spiffe://{trust_domain}/tenant/{tenant}/{kind}/{name}`` URI that
  names a workload and pins it to a tenant. Parsing is strict on purpose: anything that is not
  exactly that shape (other schemes, extra or empty segments, ``.``/``..``, query strings,
  percent-encoding, upper case) is rejected, so two spellings can never name the same workload.
* ``CertificateIdentity`` -- the fields of the ``CertificateIdentity`` message (SPEC C-2).
* ``PeerIdentity`` -- what the transport hands to the core for one connection.

It is pure: no gRPC or cloud imports, so ``aesp.core`` can use it without a transport.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, get_args

from cryptography import x509
from cryptography.hazmat.primitives import hashes

__all__ = [
    "KINDS",
    "CertificateIdentity",
    "PeerIdentity",
    "SpiffeId",
    "WorkloadKind",
    "certificate_identity_from_pem",
    "certificate_identity_from_x509",
    "parse_spiffe_id",
]

WorkloadKind = Literal["runtime", "client", "host"]
"""The kinds of workload a SPIFFE ID may name."""

KINDS: Final[frozenset[str]] = frozenset(get_args(WorkloadKind))

_SCHEME: Final = "spiffe://"
_MAX_URI_LENGTH: Final = 2048
_MAX_TRUST_DOMAIN_LENGTH: Final = 255
_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_TRUST_DOMAIN_RE: Final = re.compile(r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)


def _check_name(what: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is a valid tenant or workload name."""
    if not isinstance(value, str) or _NAME_RE.fullmatch(value) is None:
        raise ValueError(
            f"invalid {what} {value!r}: use 1-63 characters from a-z, 0-9, '.', '_' and '-', "
            "starting with a letter or digit"
        )


def _check_trust_domain(value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is a valid SPIFFE trust domain."""
    if (
        not isinstance(value, str)
        or len(value) > _MAX_TRUST_DOMAIN_LENGTH
        or _TRUST_DOMAIN_RE.fullmatch(value) is None
    ):
        raise ValueError(
            f"invalid trust domain {value!r}: use at most {_MAX_TRUST_DOMAIN_LENGTH} characters "
            "from a-z, 0-9, '.', '_' and '-', starting and ending with a letter or digit "
            "(no user info, port or upper case)"
        )


@dataclass(frozen=True, slots=True)
class SpiffeId:
    """A workload's SPIFFE ID, ``spiffe://{trust_domain}/tenant/{tenant}/{kind}/{name}``.

    Construction validates every component, so an instance is always well formed.

    Attributes:
        trust_domain: The SPIFFE trust domain, e.g. ``aesp.local``.
        tenant: The tenant the workload belongs to.
        kind: ``runtime``, ``client`` or ``host``.
        name: The workload name, unique per tenant and kind.
    """

    trust_domain: str
    tenant: str
    kind: WorkloadKind
    name: str

    def __post_init__(self) -> None:
        _check_trust_domain(self.trust_domain)
        _check_name("tenant", self.tenant)
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise ValueError(
                f"invalid workload kind {self.kind!r}: expected one of {', '.join(sorted(KINDS))}"
            )
        _check_name(f"{self.kind} name", self.name)

    @property
    def uri(self) -> str:
        """The canonical URI form of this ID."""
        return f"{_SCHEME}{self.trust_domain}/tenant/{self.tenant}/{self.kind}/{self.name}"

    def __str__(self) -> str:
        return self.uri


def parse_spiffe_id(uri: str) -> SpiffeId:
    """Parse a SPIFFE ID of the form ``spiffe://{trust_domain}/tenant/{tenant}/{kind}/{name}``.

    Args:
        uri: The URI, typically a URI SAN of a verified certificate.

    Returns:
        The parsed ID; ``parse_spiffe_id(x).uri == x`` for every accepted ``x``.

    Raises:
        ValueError: If ``uri`` is not exactly of that form. The message is one sentence saying
            what is wrong.
    """
    if not isinstance(uri, str):
        raise ValueError(f"a SPIFFE ID must be a string, not {type(uri).__name__}")
    if not uri:
        raise ValueError("the SPIFFE ID is empty")
    if len(uri) > _MAX_URI_LENGTH:
        raise ValueError(f"the SPIFFE ID is longer than {_MAX_URI_LENGTH} characters")
    if not uri.isprintable() or any(ch.isspace() for ch in uri):
        raise ValueError(f"the SPIFFE ID {uri!r} contains whitespace or control characters")
    if not uri.startswith(_SCHEME):
        if uri.lower().startswith(_SCHEME):
            raise ValueError(f"the SPIFFE ID {uri!r} must use the lower-case scheme 'spiffe://'")
        raise ValueError(f"the SPIFFE ID {uri!r} must start with 'spiffe://'")
    if "?" in uri or "#" in uri:
        raise ValueError(f"the SPIFFE ID {uri!r} must not have a query or fragment")
    if "%" in uri:
        raise ValueError(f"the SPIFFE ID {uri!r} must not contain percent-encoding")
    rest = uri[len(_SCHEME) :]
    trust_domain, slash, path = rest.partition("/")
    if not trust_domain:
        raise ValueError(f"the SPIFFE ID {uri!r} has no trust domain")
    if "@" in trust_domain or ":" in trust_domain:
        raise ValueError(f"the SPIFFE ID {uri!r} must not have user info or a port")
    if not slash or not path:
        raise ValueError(
            f"the SPIFFE ID {uri!r} has no path; expected /tenant/<tenant>/<kind>/<name>"
        )
    segments = path.split("/")
    if any(seg in (".", "..") for seg in segments):
        raise ValueError(f"the SPIFFE ID {uri!r} must not contain '.' or '..' path segments")
    if any(not seg for seg in segments):
        raise ValueError(
            f"the SPIFFE ID {uri!r} has an empty path segment (a doubled or trailing '/')"
        )
    if len(segments) != 4 or segments[0] != "tenant":
        raise ValueError(f"the SPIFFE ID {uri!r} must have the path /tenant/<tenant>/<kind>/<name>")
    _, tenant, kind, name = segments
    if kind not in KINDS:
        raise ValueError(
            f"the SPIFFE ID {uri!r} names the unknown workload kind {kind!r}; "
            f"expected one of {', '.join(sorted(KINDS))}"
        )
    try:
        return SpiffeId(trust_domain=trust_domain, tenant=tenant, kind=kind, name=name)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"the SPIFFE ID {uri!r} is malformed: {exc}") from None


@dataclass(frozen=True, slots=True)
class CertificateIdentity:
    """The identity carried by an X.509 certificate (SPEC C-2 ``CertificateIdentity``).

    Attributes:
        subject_dn: The subject distinguished name in RFC 4514 form.
        issuer_dn: The issuer distinguished name in RFC 4514 form.
        serial_number: The serial number as lower-case hex without leading zeros.
        fingerprint_sha256: SHA-256 of the DER encoding, lower-case hex.
        not_before_ms: Start of validity, Unix epoch milliseconds UTC.
        not_after_ms: End of validity, Unix epoch milliseconds UTC.
        san_dns: DNS subject alternative names, in certificate order.
        san_uris: URI subject alternative names, in certificate order.
        spiffe_id: The certificate's single ``spiffe://`` URI SAN, or ``""`` if it has none.
    """

    subject_dn: str
    issuer_dn: str
    serial_number: str
    fingerprint_sha256: str
    not_before_ms: int
    not_after_ms: int
    san_dns: tuple[str, ...]
    san_uris: tuple[str, ...]
    spiffe_id: str


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """Who is on the other end of a verified TLS connection.

    Attributes:
        certificate: The identity of the peer certificate verified in the handshake.
        spiffe: The parsed SPIFFE ID, or ``None`` if the certificate has none or it is malformed
            (``certificate.spiffe_id`` still holds the raw value).
        tls_version: The negotiated protocol, e.g. ``TLSv1.3``.
    """

    certificate: CertificateIdentity
    spiffe: SpiffeId | None
    tls_version: str


def _epoch_ms(moment: datetime) -> int:
    """Return ``moment`` as Unix epoch milliseconds, clamped at 0 (the field is unsigned)."""
    return max(0, (moment - _EPOCH) // _ONE_MS)


def certificate_identity_from_x509(cert: x509.Certificate) -> CertificateIdentity:
    """Build a ``CertificateIdentity`` from a parsed certificate.

    Args:
        cert: The certificate.

    Returns:
        Its identity.

    Raises:
        ValueError: If the subject alternative name extension is malformed or the certificate
            carries more than one ``spiffe://`` URI (an X.509-SVID has exactly one).
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san_dns: tuple[str, ...] = ()
        san_uris: tuple[str, ...] = ()
    else:
        san_dns = tuple(san.get_values_for_type(x509.DNSName))
        san_uris = tuple(san.get_values_for_type(x509.UniformResourceIdentifier))
    spiffe_uris = [uri for uri in san_uris if uri[:9].lower() == _SCHEME]
    if len(spiffe_uris) > 1:
        raise ValueError(
            f"the certificate carries {len(spiffe_uris)} SPIFFE IDs ({', '.join(spiffe_uris)}); "
            "a workload certificate must carry exactly one"
        )
    return CertificateIdentity(
        subject_dn=cert.subject.rfc4514_string(),
        issuer_dn=cert.issuer.rfc4514_string(),
        serial_number=format(cert.serial_number, "x"),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        not_before_ms=_epoch_ms(cert.not_valid_before_utc),
        not_after_ms=_epoch_ms(cert.not_valid_after_utc),
        san_dns=san_dns,
        san_uris=san_uris,
        spiffe_id=spiffe_uris[0] if spiffe_uris else "",
    )


def certificate_identity_from_pem(pem: bytes) -> CertificateIdentity:
    """Build a ``CertificateIdentity`` from a PEM certificate (the first one if several).

    Args:
        pem: PEM-encoded certificate bytes, e.g. gRPC's ``x509_pem_cert`` auth property.

    Returns:
        Its identity.

    Raises:
        ValueError: If ``pem`` is not a PEM certificate, or see ``certificate_identity_from_x509``.
    """
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a PEM-encoded X.509 certificate: {exc}") from None
    return certificate_identity_from_x509(cert)
