"""Development PKI for mutual TLS between the Host, Runtimes and clients (``aesp certs``).

Every connection to the Host is mutual TLS 1.3 (SPEC C-30), and the Host learns who a peer is --
and which tenant it belongs to (C-40) -- from the SPIFFE ID in the certificate it verified (C-2).
A developer therefore needs a CA and a set of correctly shaped certificates before anything can
talk to anything. This module makes them with ``cryptography`` alone (no openssl CLI):

* one private CA (ECDSA P-256, SHA-256, ``pathLen=0`` so it can only sign end-entity certs);
* end-entity certificates with a ``spiffe://{trust_domain}/tenant/{tenant}/{kind}/{name}`` URI SAN,
  the right extended key usage (``serverAuth`` for the Host, ``clientAuth`` for everyone) and,
  for the Host, DNS/IP SANs so clients can verify its hostname.

Private keys are written unencrypted with mode 0600; this is a development PKI, not a
production one. Production deployments bring their own CA (or SPIRE) and only need the same
SAN shape.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from aesp.core.identity import (
    KINDS,
    SpiffeId,
    WorkloadKind,
    certificate_identity_from_pem,
    parse_spiffe_id,
)

__all__ = [
    "DevPki",
    "certs_main",
    "create_ca",
    "init_dev_pki",
    "issue_certificate",
    "issue_into",
    "spiffe_id_for",
]

DEFAULT_TRUST_DOMAIN: Final = "aesp.local"
HOST_NAME: Final = "host"
"""Workload name used in the SPIFFE ID of the Host certificate written by ``init_dev_pki``."""

_CLOCK_SKEW: Final = timedelta(minutes=5)
_MAX_CN_LENGTH: Final = 64
_KEY_MODE: Final = 0o600
_CERT_MODE: Final = 0o644
_DIR_MODE: Final = 0o700


# --------------------------------------------------------------------------- helpers


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _subject(common_name: str) -> x509.Name:
    if not isinstance(common_name, str) or not 1 <= len(common_name) <= _MAX_CN_LENGTH:
        raise ValueError(f"common_name must be 1-{_MAX_CN_LENGTH} characters, got {common_name!r}")
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signer,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signer,
        crl_sign=signer,
        encipher_only=False,
        decipher_only=False,
    )


def _spki(key: ec.EllipticCurvePublicKey | object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime (e.g. datetime.now(UTC))")
    return moment.astimezone(UTC)


def _load_ca(
    ca_cert_pem: bytes, ca_key_pem: bytes
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the CA certificate is not a PEM X.509 certificate: {exc}") from None
    try:
        ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the CA key is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key must be an EC private key (this PKI uses ECDSA P-256)")
    if _spki(ca_key.public_key()) != _spki(ca_cert.public_key()):
        raise ValueError("the CA key does not belong to the CA certificate")
    try:
        constraints = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise ValueError("the CA certificate is not a CA (basicConstraints CA:TRUE is missing)")
    return ca_cert, ca_key


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically, creating it with ``mode`` (never wider)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise


def _names(what: str, values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise ValueError(f"{what} must be a sequence of names, not the single string {values!r}")
    names = tuple(values)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{what} lists {', '.join(duplicates)} more than once")
    return names


# --------------------------------------------------------------------------- certificates


def spiffe_id_for(
    kind: WorkloadKind, name: str, *, tenant: str, trust_domain: str = DEFAULT_TRUST_DOMAIN
) -> str:
    """Return the SPIFFE ID ``spiffe://{trust_domain}/tenant/{tenant}/{kind}/{name}``.

    Args:
        kind: ``runtime``, ``client`` or ``host``.
        name: Workload name, ``^[a-z0-9][a-z0-9._-]{0,62}$``.
        tenant: Tenant name, same rule as ``name``.
        trust_domain: SPIFFE trust domain.

    Returns:
        The URI.

    Raises:
        ValueError: If any component is invalid; the message says which and why.
    """
    return SpiffeId(trust_domain=trust_domain, tenant=tenant, kind=kind, name=name).uri


def create_ca(common_name: str, *, valid_days: int = 365) -> tuple[bytes, bytes]:
    """Create a self-signed ECDSA P-256 CA.

    Args:
        common_name: The CA's subject CN.
        valid_days: Validity in days from now.

    Returns:
        ``(certificate PEM, private key PEM)``.

    Raises:
        ValueError: If ``common_name`` or ``valid_days`` is invalid.
    """
    if valid_days < 1:
        raise ValueError(f"valid_days must be at least 1, got {valid_days}")
    name = _subject(common_name)
    key = _new_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signer=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _cert_pem(cert), _key_pem(key)


def issue_certificate(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    *,
    common_name: str,
    spiffe_id: str | None = None,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str | ipaddress.IPv4Address | ipaddress.IPv6Address] = (),
    server: bool = False,
    client: bool = False,
    valid_days: int = 90,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> tuple[bytes, bytes]:
    """Issue an end-entity certificate with a fresh ECDSA P-256 key, signed by the CA.

    When ``not_after`` is not given the certificate is valid for ``valid_days`` from
    ``not_before`` (default: now) but never beyond the CA's own expiry. An explicit ``not_after``
    is used as is (tests use it to make expired certificates).

    Args:
        ca_cert_pem: The CA certificate.
        ca_key_pem: The CA private key.
        common_name: Subject CN (informational; peers are identified by SAN).
        spiffe_id: SPIFFE ID to put in a URI SAN; must parse with ``parse_spiffe_id``.
        dns_names: DNS SANs (ASCII, e.g. ``localhost``).
        ip_addresses: IP SANs.
        server: Add EKU ``serverAuth``.
        client: Add EKU ``clientAuth``.
        valid_days: Validity in days when ``not_after`` is not given.
        not_before: Start of validity (timezone-aware); default now minus 5 minutes of skew.
        not_after: End of validity (timezone-aware).

    Returns:
        ``(certificate PEM, private key PEM)``.

    Raises:
        ValueError: If the CA material is unusable, neither ``server`` nor ``client`` is set,
            there is no SAN at all, a SAN is malformed, or the validity window is empty.
    """
    ca_cert, ca_key = _load_ca(ca_cert_pem, ca_key_pem)
    if not (server or client):
        raise ValueError("ask for server=True and/or client=True: the certificate needs an EKU")
    sans: list[x509.GeneralName] = []
    for dns in dns_names:
        if (
            not isinstance(dns, str)
            or not dns
            or not dns.isascii()
            or any(c.isspace() for c in dns)
        ):
            raise ValueError(
                f"invalid DNS name {dns!r}: use an ASCII host name such as 'localhost'"
            )
        sans.append(x509.DNSName(dns))
    for ip in ip_addresses:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            raise ValueError(f"invalid IP address {ip!r}") from None
    if spiffe_id is not None:
        sans.append(x509.UniformResourceIdentifier(parse_spiffe_id(spiffe_id).uri))
    if not sans:
        raise ValueError(
            "the certificate needs at least one subject alternative name "
            "(spiffe_id, dns_names or ip_addresses)"
        )
    now = _now()
    start = _aware(not_before, "not_before") if not_before is not None else now - _CLOCK_SKEW
    if not_after is not None:
        end = _aware(not_after, "not_after")
    else:
        if valid_days < 1:
            raise ValueError(f"valid_days must be at least 1, got {valid_days}")
        base = start if not_before is not None else now
        end = min(base + timedelta(days=valid_days), ca_cert.not_valid_after_utc)
    if end <= start:
        raise ValueError(f"the validity window is empty: not_after {end} <= not_before {start}")

    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    try:
        ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
    except x509.ExtensionNotFound:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_subject(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signer=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _cert_pem(cert), _key_pem(key)


# --------------------------------------------------------------------------- on-disk PKI


def _leaf_paths(directory: Path, kind: str, name: str) -> tuple[Path, Path]:
    return directory / f"{kind}-{name}.pem", directory / f"{kind}-{name}.key"


@dataclass(frozen=True)
class DevPki:
    """Paths of a development PKI directory written by ``init_dev_pki``.

    Attributes:
        directory: The PKI directory.
        ca: CA certificate (``ca.pem``); the trust root for every party.
        ca_key: CA private key (``ca.key``).
        host_cert: Host certificate (``host.pem``).
        host_key: Host private key (``host.key``).
    """

    directory: Path
    ca: Path
    ca_key: Path
    host_cert: Path
    host_key: Path

    @classmethod
    def at(cls, directory: Path | str) -> DevPki:
        """Return the paths of the PKI in ``directory`` (nothing is read or checked)."""
        root = Path(directory)
        return cls(
            directory=root,
            ca=root / "ca.pem",
            ca_key=root / "ca.key",
            host_cert=root / "host.pem",
            host_key=root / "host.key",
        )

    def runtime(self, name: str) -> tuple[Path, Path]:
        """Return ``(certificate, key)`` paths of runtime ``name``.

        Raises:
            ValueError: If ``name`` is not a valid workload name.
            FileNotFoundError: If no certificate was issued for it.
        """
        return self._leaf("runtime", name)

    def client(self, name: str) -> tuple[Path, Path]:
        """Return ``(certificate, key)`` paths of client ``name``.

        Raises:
            ValueError: If ``name`` is not a valid workload name.
            FileNotFoundError: If no certificate was issued for it.
        """
        return self._leaf("client", name)

    def _leaf(self, kind: WorkloadKind, name: str) -> tuple[Path, Path]:
        spiffe_id_for(kind, name, tenant="default")  # validates name
        cert, key = _leaf_paths(self.directory, kind, name)
        if not cert.is_file() or not key.is_file():
            raise FileNotFoundError(
                f"no {kind} certificate for {name!r} in {self.directory}; create it with "
                f"`aesp certs issue --dir {self.directory} --kind {kind} --name {name} "
                "--tenant TENANT`"
            )
        return cert, key


def init_dev_pki(
    directory: Path | str,
    *,
    tenant: str = "default",
    runtimes: Sequence[str] = ("example",),
    clients: Sequence[str] = ("demo",),
    trust_domain: str = DEFAULT_TRUST_DOMAIN,
    hostnames: Sequence[str] = ("localhost",),
    ips: Sequence[str] = ("127.0.0.1",),
    force: bool = False,
    ca_valid_days: int = 365,
    valid_days: int = 90,
) -> DevPki:
    """Create a CA plus Host, runtime and client certificates in ``directory``.

    Writes ``ca.pem``/``ca.key``, ``host.pem``/``host.key`` (serverAuth + clientAuth, DNS/IP SANs,
    SPIFFE name ``host``), ``runtime-<name>.pem``/``.key`` and ``client-<name>.pem``/``.key``
    (clientAuth). Keys are mode 0600. Everything is validated and generated before anything is
    written.

    Args:
        directory: Target directory, created (mode 0700) if missing.
        tenant: Tenant of every issued workload.
        runtimes: Runtime names to issue.
        clients: Client names to issue.
        trust_domain: SPIFFE trust domain.
        hostnames: DNS SANs of the Host certificate.
        ips: IP SANs of the Host certificate.
        force: Replace an existing CA (invalidating every certificate it signed).
        ca_valid_days: CA validity in days.
        valid_days: End-entity validity in days (capped at the CA's expiry).

    Returns:
        The paths of the PKI.

    Raises:
        ValueError: If a name, tenant, trust domain, host name or IP is invalid.
        FileExistsError: If ``directory`` already holds a CA and ``force`` is false.
    """
    pki = DevPki.at(directory)
    runtime_names = _names("runtimes", runtimes)
    client_names = _names("clients", clients)
    if not force and (pki.ca.exists() or pki.ca_key.exists()):
        raise FileExistsError(
            f"{pki.directory} already holds a CA ({pki.ca.name}); refusing to replace it because "
            "that would invalidate every certificate it signed. Use `aesp certs issue` to add "
            "certificates, or --force / force=True to start over"
        )
    host_id = spiffe_id_for("host", HOST_NAME, tenant=tenant, trust_domain=trust_domain)
    leaves: list[tuple[str, str, str]] = [
        ("runtime", n, spiffe_id_for("runtime", n, tenant=tenant, trust_domain=trust_domain))
        for n in runtime_names
    ]
    leaves += [
        ("client", n, spiffe_id_for("client", n, tenant=tenant, trust_domain=trust_domain))
        for n in client_names
    ]

    ca_pem, ca_key_pem = create_ca(
        f"AESP development CA ({trust_domain})"[:_MAX_CN_LENGTH], valid_days=ca_valid_days
    )
    outputs: list[tuple[Path, bytes, int]] = [
        (pki.ca_key, ca_key_pem, _KEY_MODE),
        (pki.ca, ca_pem, _CERT_MODE),
    ]
    host_pem, host_key_pem = issue_certificate(
        ca_pem,
        ca_key_pem,
        common_name=hostnames[0] if hostnames else HOST_NAME,
        spiffe_id=host_id,
        dns_names=hostnames,
        ip_addresses=ips,
        server=True,
        client=True,
        valid_days=valid_days,
    )
    outputs += [(pki.host_key, host_key_pem, _KEY_MODE), (pki.host_cert, host_pem, _CERT_MODE)]
    for kind, name, spiffe_id in leaves:
        cert_pem, key_pem = issue_certificate(
            ca_pem,
            ca_key_pem,
            common_name=name,
            spiffe_id=spiffe_id,
            client=True,
            valid_days=valid_days,
        )
        cert_path, key_path = _leaf_paths(pki.directory, kind, name)
        outputs += [(key_path, key_pem, _KEY_MODE), (cert_path, cert_pem, _CERT_MODE)]

    pki.directory.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
    for path, data, mode in outputs:
        _write(path, data, mode)
    return pki


def _trust_domain_of(pki: DevPki) -> str:
    """Infer the trust domain from the Host certificate, defaulting to ``aesp.local``."""
    try:
        spiffe = certificate_identity_from_pem(pki.host_cert.read_bytes()).spiffe_id
        return parse_spiffe_id(spiffe).trust_domain
    except (OSError, ValueError):
        return DEFAULT_TRUST_DOMAIN


def issue_into(
    directory: Path | str,
    kind: WorkloadKind,
    name: str,
    *,
    tenant: str,
    trust_domain: str | None = None,
    hostnames: Sequence[str] = ("localhost",),
    ips: Sequence[str] = ("127.0.0.1",),
    valid_days: int = 90,
    force: bool = False,
) -> tuple[Path, Path]:
    """Issue one more certificate, signed by the CA already in ``directory``.

    Writes ``<kind>-<name>.pem`` and ``<kind>-<name>.key``. Runtimes and clients get
    ``clientAuth``; a host gets ``serverAuth`` + ``clientAuth`` and the DNS/IP SANs.

    Args:
        directory: A directory written by ``init_dev_pki``.
        kind: ``runtime``, ``client`` or ``host``.
        name: Workload name.
        tenant: Tenant of the workload.
        trust_domain: SPIFFE trust domain; default: the one in ``host.pem``, else ``aesp.local``.
        hostnames: DNS SANs (host only).
        ips: IP SANs (host only).
        valid_days: Validity in days (capped at the CA's expiry).
        force: Replace an existing certificate of the same kind and name.

    Returns:
        ``(certificate path, key path)``.

    Raises:
        ValueError: If ``kind``, ``name``, ``tenant`` or ``trust_domain`` is invalid.
        FileNotFoundError: If ``directory`` has no CA.
        FileExistsError: If the certificate exists and ``force`` is false.
    """
    pki = DevPki.at(directory)
    if kind not in KINDS:
        raise ValueError(f"invalid kind {kind!r}: expected one of {', '.join(sorted(KINDS))}")
    if not pki.ca.is_file() or not pki.ca_key.is_file():
        raise FileNotFoundError(
            f"{pki.directory} has no CA ({pki.ca.name} and {pki.ca_key.name}); "
            f"create one with `aesp certs init --dir {pki.directory}`"
        )
    domain = trust_domain if trust_domain is not None else _trust_domain_of(pki)
    spiffe_id = spiffe_id_for(kind, name, tenant=tenant, trust_domain=domain)
    cert_path, key_path = _leaf_paths(pki.directory, kind, name)
    if not force and (cert_path.exists() or key_path.exists()):
        raise FileExistsError(
            f"{cert_path} already exists; pass --force / force=True to replace it"
        )
    is_host = kind == "host"
    cert_pem, key_pem = issue_certificate(
        pki.ca.read_bytes(),
        pki.ca_key.read_bytes(),
        common_name=name,
        spiffe_id=spiffe_id,
        dns_names=hostnames if is_host else (),
        ip_addresses=ips if is_host else (),
        server=is_host,
        client=True,
        valid_days=valid_days,
    )
    _write(key_path, key_pem, _KEY_MODE)
    _write(cert_path, cert_pem, _CERT_MODE)
    return cert_path, key_path


# --------------------------------------------------------------------------- CLI


def _describe(cert_path: Path) -> list[str]:
    """Return human-readable lines describing the certificate at ``cert_path``."""
    ident = certificate_identity_from_pem(cert_path.read_bytes())
    until = datetime.fromtimestamp(ident.not_after_ms / 1000, UTC).strftime("%Y-%m-%d")
    lines = [ident.spiffe_id or ident.subject_dn]
    sans = [f"DNS {d}" for d in ident.san_dns]
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans += [f"IP {ip}" for ip in ext.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    lines.append(", ".join([*sans, f"valid until {until}"]))
    return lines


def _print_table(rows: list[tuple[str, Path, Path]]) -> None:
    width_role = max(len(role) for role, _, _ in rows)
    width_file = max(len(f"{c.name} + {k.name}") for _, c, k in rows)
    for role, cert, key in rows:
        files = f"{cert.name} + {key.name}"
        first, *rest = _describe(cert)
        print(f"  {role:<{width_role}}  {files:<{width_file}}  {first}")
        for line in rest:
            print(f"  {'':<{width_role}}  {'':<{width_file}}  {line}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aesp certs",
        description="Create a development PKI for mutual TLS between the Host, Runtimes and "
        "clients, and issue more certificates from it.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{init,issue}")

    init = sub.add_parser(
        "init",
        help="create a CA plus host, runtime and client certificates",
        description="Create a CA plus host, runtime and client certificates in DIR.",
    )
    init.add_argument("--dir", required=True, type=Path, help="PKI directory")
    init.add_argument("--tenant", default="default", help="tenant of the workloads (default)")
    init.add_argument(
        "--runtime",
        dest="runtimes",
        action="extend",
        nargs="+",
        metavar="NAME",
        help="runtime certificate(s) to issue (repeatable; default: example)",
    )
    init.add_argument(
        "--client",
        dest="clients",
        action="extend",
        nargs="+",
        metavar="NAME",
        help="client certificate(s) to issue (repeatable; default: demo)",
    )
    init.add_argument("--trust-domain", default=DEFAULT_TRUST_DOMAIN, help="SPIFFE trust domain")
    _add_host_sans(init)
    init.add_argument("--force", action="store_true", help="replace an existing CA")

    issue = sub.add_parser(
        "issue",
        help="issue one more certificate from the CA in DIR",
        description="Issue one more certificate signed by the CA in DIR.",
    )
    issue.add_argument("--dir", required=True, type=Path, help="PKI directory")
    issue.add_argument("--kind", required=True, choices=sorted(KINDS), help="workload kind")
    issue.add_argument("--name", required=True, help="workload name")
    issue.add_argument("--tenant", required=True, help="tenant of the workload")
    issue.add_argument(
        "--trust-domain", default=None, help="SPIFFE trust domain (default: the one in host.pem)"
    )
    _add_host_sans(issue)
    issue.add_argument("--force", action="store_true", help="replace an existing certificate")
    return parser


def _add_host_sans(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hostname",
        dest="hostnames",
        action="append",
        metavar="DNS",
        help="DNS SAN of a host certificate (repeatable; default: localhost)",
    )
    parser.add_argument(
        "--ip",
        dest="ips",
        action="append",
        metavar="IP",
        help="IP SAN of a host certificate (repeatable; default: 127.0.0.1)",
    )


def _run(args: argparse.Namespace) -> None:
    hostnames = tuple(args.hostnames or ("localhost",))
    ips = tuple(args.ips or ("127.0.0.1",))
    if args.command == "init":
        pki = init_dev_pki(
            args.dir,
            tenant=args.tenant,
            runtimes=tuple(args.runtimes or ("example",)),
            clients=tuple(args.clients or ("demo",)),
            trust_domain=args.trust_domain,
            hostnames=hostnames,
            ips=ips,
            force=args.force,
        )
        ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
        print(
            f"Created a development PKI in {pki.directory} "
            f"(trust domain {args.trust_domain}, tenant {args.tenant}):"
        )
        rows: list[tuple[str, Path, Path]] = [("host", pki.host_cert, pki.host_key)]
        rows += [("runtime", *pki.runtime(n)) for n in dict.fromkeys(args.runtimes or ("example",))]
        rows += [("client", *pki.client(n)) for n in dict.fromkeys(args.clients or ("demo",))]
        print(
            f"  CA: {pki.ca.name} + {pki.ca_key.name}  {ca.subject.rfc4514_string()}, "
            f"valid until {ca.not_valid_after_utc:%Y-%m-%d}"
        )
        _print_table(rows)
        print(
            "Private keys (*.key) are mode 0600. Keep ca.key secret: whoever holds it can mint "
            "identities for any tenant. This PKI is for development only."
        )
    else:
        cert, key = issue_into(
            args.dir,
            args.kind,
            args.name,
            tenant=args.tenant,
            trust_domain=args.trust_domain,
            hostnames=hostnames,
            ips=ips,
            force=args.force,
        )
        print(f"Issued a {args.kind} certificate signed by {DevPki.at(args.dir).ca}:")
        _print_table([(args.kind, cert, key)])


def certs_main(argv: list[str]) -> int:
    """Run ``aesp certs`` with ``argv`` (the arguments after ``certs``).

    ``aesp certs init --dir DIR [--tenant T] [--runtime NAME ...] [--client NAME ...]
    [--trust-domain D] [--hostname DNS] [--ip IP] [--force]`` creates a PKI;
    ``aesp certs issue --dir DIR --kind runtime|client|host --name N --tenant T`` adds one
    certificate. What was written, and each SPIFFE ID, is printed to stdout.

    Args:
        argv: Command-line arguments.

    Returns:
        0 on success, 1 if the PKI could not be written (message on stderr), 2 on usage errors.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error; argparse has already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        _run(args)
    except (OSError, ValueError) as exc:
        print(f"aesp certs {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0
