"""SPIFFE ID parsing and certificate identity extraction (SPEC C-2, C-40)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aesp.certs import create_ca, issue_certificate
from aesp.core.identity import (
    CertificateIdentity,
    PeerIdentity,
    SpiffeId,
    certificate_identity_from_pem,
    parse_spiffe_id,
)

GOOD = [
    (
        "spiffe://aesp.local/tenant/default/runtime/example",
        SpiffeId("aesp.local", "default", "runtime", "example"),
    ),
    (
        "spiffe://aesp.local/tenant/acme/client/demo",
        SpiffeId("aesp.local", "acme", "client", "demo"),
    ),
    ("spiffe://td/tenant/t/host/host", SpiffeId("td", "t", "host", "host")),
    (
        "spiffe://prod.example-corp.com/tenant/team_a.eu-1/runtime/aws.s3-adapter_2",
        SpiffeId("prod.example-corp.com", "team_a.eu-1", "runtime", "aws.s3-adapter_2"),
    ),
    ("spiffe://a/tenant/0/client/9", SpiffeId("a", "0", "client", "9")),
    (
        f"spiffe://x/tenant/{'t' * 63}/runtime/{'n' * 63}",
        SpiffeId("x", "t" * 63, "runtime", "n" * 63),
    ),
]


@pytest.mark.parametrize(("uri", "expected"), GOOD)
def test_parse_good_ids(uri: str, expected: SpiffeId) -> None:
    parsed = parse_spiffe_id(uri)
    assert parsed == expected
    assert parsed.uri == uri
    assert str(parsed) == uri


BAD = [
    ("", "empty"),
    ("spiffe://", "no trust domain"),
    ("spiffe:///tenant/t/runtime/n", "no trust domain"),
    ("https://aesp.local/tenant/t/runtime/n", "must start with 'spiffe://'"),
    ("spiffe:/aesp.local/tenant/t/runtime/n", "must start with 'spiffe://'"),
    ("aesp.local/tenant/t/runtime/n", "must start with 'spiffe://'"),
    ("SPIFFE://aesp.local/tenant/t/runtime/n", "lower-case scheme"),
    ("spiffe://AESP.local/tenant/t/runtime/n", "invalid trust domain"),
    ("spiffe://aesp.local", "no path"),
    ("spiffe://aesp.local/", "no path"),
    ("spiffe://aesp.local/tenant/t/runtime", "/tenant/<tenant>/<kind>/<name>"),
    ("spiffe://aesp.local/tenant/t/runtime/n/extra", "/tenant/<tenant>/<kind>/<name>"),
    ("spiffe://aesp.local/tenants/t/runtime/n", "/tenant/<tenant>/<kind>/<name>"),
    ("spiffe://aesp.local/tenant/t/robot/n", "unknown workload kind"),
    ("spiffe://aesp.local/tenant/t/Runtime/n", "unknown workload kind"),
    ("spiffe://aesp.local/tenant/t/runtime/n/", "empty path segment"),
    ("spiffe://aesp.local/tenant//runtime/n", "empty path segment"),
    ("spiffe://aesp.local//tenant/t/runtime/n", "empty path segment"),
    ("spiffe://aesp.local/tenant/../runtime/n", r"'\.' or '\.\.'"),
    ("spiffe://aesp.local/tenant/t/runtime/..", r"'\.' or '\.\.'"),
    ("spiffe://aesp.local/tenant/./runtime/n", r"'\.' or '\.\.'"),
    ("spiffe://aesp.local/tenant/t/runtime/n?x=1", "query or fragment"),
    ("spiffe://aesp.local/tenant/t/runtime/n#frag", "query or fragment"),
    ("spiffe://aesp.local/tenant/t/runtime/n%2F..", "percent-encoding"),
    ("spiffe://aesp.local/tenant/t/runtime/%6e", "percent-encoding"),
    ("spiffe://user@aesp.local/tenant/t/runtime/n", "user info or a port"),
    ("spiffe://aesp.local:8443/tenant/t/runtime/n", "user info or a port"),
    ("spiffe://aesp.local/tenant/t/runtime/N", "invalid runtime name"),
    ("spiffe://aesp.local/tenant/T/runtime/n", "invalid tenant"),
    ("spiffe://aesp.local/tenant/-t/runtime/n", "invalid tenant"),
    ("spiffe://aesp.local/tenant/t/runtime/.hidden", "invalid runtime name"),
    ("spiffe://aesp.local/tenant/t/runtime/a b", "whitespace"),
    ("spiffe://aesp.local/tenant/t/runtime/n\n", "whitespace"),
    ("spiffe://aesp.local/tenant/t/runtime/caf\u00e9", "invalid runtime name"),
    (f"spiffe://aesp.local/tenant/t/runtime/{'n' * 64}", "invalid runtime name"),
    ("spiffe://-aesp.local/tenant/t/runtime/n", "invalid trust domain"),
    ("spiffe://aesp.local./tenant/t/runtime/n", "invalid trust domain"),
    (f"spiffe://{'d' * 2100}/tenant/t/runtime/n", "longer than 2048"),
]


@pytest.mark.parametrize(("uri", "reason"), BAD)
def test_parse_rejects_malformed_ids(uri: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_spiffe_id(uri)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_spiffe_id(b"spiffe://aesp.local/tenant/t/runtime/n")  # type: ignore[arg-type]


def test_spiffe_id_validates_on_construction() -> None:
    with pytest.raises(ValueError, match="invalid workload kind"):
        SpiffeId("aesp.local", "t", "admin", "n")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid tenant"):
        SpiffeId("aesp.local", "", "runtime", "n")
    with pytest.raises(ValueError, match="invalid trust domain"):
        SpiffeId("aesp.local:1", "t", "runtime", "n")


def _raw_cert(sans: list[x509.GeneralName], *, subject: str = "raw") -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x1F)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)


def test_certificate_identity_from_issued_certificate() -> None:
    ca_pem, ca_key = create_ca("Test CA")
    spiffe = "spiffe://aesp.local/tenant/acme/runtime/worker"
    start = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    end = datetime(2030, 3, 1, tzinfo=UTC)
    cert_pem, _ = issue_certificate(
        ca_pem,
        ca_key,
        common_name="worker",
        spiffe_id=spiffe,
        dns_names=["worker.local", "w2.local"],
        ip_addresses=["10.0.0.1"],
        client=True,
        not_before=start,
        not_after=end,
    )
    ident = certificate_identity_from_pem(cert_pem)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert ident == CertificateIdentity(
        subject_dn="CN=worker",
        issuer_dn="CN=Test CA",
        serial_number=format(cert.serial_number, "x"),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        not_before_ms=int(start.timestamp()) * 1000,
        not_after_ms=int(end.timestamp()) * 1000,
        san_dns=("worker.local", "w2.local"),
        san_uris=(spiffe,),
        spiffe_id=spiffe,
    )
    assert len(ident.fingerprint_sha256) == 64
    peer = PeerIdentity(ident, parse_spiffe_id(ident.spiffe_id), "TLSv1.3")
    assert peer.spiffe is not None and peer.spiffe.tenant == "acme"


def test_certificate_without_san_has_no_spiffe_id() -> None:
    ident = certificate_identity_from_pem(_raw_cert([]))
    assert ident.san_dns == () and ident.san_uris == () and ident.spiffe_id == ""
    assert ident.serial_number == "1f"


def test_non_spiffe_uris_are_kept_but_not_taken_as_identity() -> None:
    pem = _raw_cert(
        [
            x509.UniformResourceIdentifier("https://example.com/x"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
    )
    ident = certificate_identity_from_pem(pem)
    assert ident.san_uris == ("https://example.com/x",)
    assert ident.spiffe_id == ""


def test_two_spiffe_ids_are_rejected() -> None:
    pem = _raw_cert(
        [
            x509.UniformResourceIdentifier("spiffe://aesp.local/tenant/a/runtime/x"),
            x509.UniformResourceIdentifier("spiffe://aesp.local/tenant/b/runtime/x"),
        ]
    )
    with pytest.raises(ValueError, match="2 SPIFFE IDs"):
        certificate_identity_from_pem(pem)


def test_malformed_spiffe_uri_is_reported_raw() -> None:
    raw = "spiffe://aesp.local/whatever"
    ident = certificate_identity_from_pem(_raw_cert([x509.UniformResourceIdentifier(raw)]))
    assert ident.spiffe_id == raw
    with pytest.raises(ValueError):
        parse_spiffe_id(ident.spiffe_id)


@pytest.mark.parametrize("pem", [b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\n"])
def test_garbage_pem_is_a_value_error(pem: bytes) -> None:
    with pytest.raises(ValueError, match="not a PEM-encoded X.509 certificate"):
        certificate_identity_from_pem(pem)


def test_identities_are_immutable() -> None:
    ident = certificate_identity_from_pem(_raw_cert([]))
    with pytest.raises(AttributeError):
        ident.spiffe_id = "x"  # type: ignore[misc]
    spiffe = parse_spiffe_id("spiffe://aesp.local/tenant/t/runtime/n")
    with pytest.raises(AttributeError):
        spiffe.tenant = "other"  # type: ignore[misc]
