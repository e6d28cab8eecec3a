"""The development PKI: certificate shape, chain verification, files on disk and the CLI."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    DNSName,
    IPAddress,
    PolicyBuilder,
    Store,
    VerificationError,
)

from aesp.certs import (
    DevPki,
    certs_main,
    create_ca,
    init_dev_pki,
    issue_certificate,
    issue_into,
    spiffe_id_for,
)
from aesp.core.identity import certificate_identity_from_pem


def load(pem_or_path: bytes | Path) -> x509.Certificate:
    data = pem_or_path.read_bytes() if isinstance(pem_or_path, Path) else pem_or_path
    return x509.load_pem_x509_certificate(data)


def ekus(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def uris(cert: x509.Certificate) -> list[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.UniformResourceIdentifier)


@pytest.fixture(scope="module")
def ca() -> tuple[bytes, bytes]:
    return create_ca("Unit Test CA")


# --------------------------------------------------------------------------- spiffe_id_for


def test_spiffe_id_for_formats_the_uri() -> None:
    assert (
        spiffe_id_for("runtime", "example", tenant="default")
        == "spiffe://aesp.local/tenant/default/runtime/example"
    )
    assert (
        spiffe_id_for("client", "demo", tenant="acme", trust_domain="corp.example")
        == "spiffe://corp.example/tenant/acme/client/demo"
    )


@pytest.mark.parametrize(
    ("kind", "name", "tenant", "match"),
    [
        ("runtime", "Example", "default", "invalid runtime name 'Example'"),
        ("runtime", "", "default", "invalid runtime name"),
        ("runtime", "a/b", "default", "invalid runtime name"),
        ("runtime", "..", "default", "invalid runtime name"),
        ("runtime", "x" * 64, "default", "invalid runtime name"),
        ("client", "demo", "Acme", "invalid tenant 'Acme'"),
        ("client", "demo", "_acme", "invalid tenant"),
        ("admin", "demo", "acme", "invalid workload kind 'admin'"),
    ],
)
def test_spiffe_id_for_rejects_bad_components(
    kind: str, name: str, tenant: str, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        spiffe_id_for(kind, name, tenant=tenant)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- certificates


def test_ca_shape(ca: tuple[bytes, bytes]) -> None:
    cert = load(ca[0])
    assert cert.subject == cert.issuer
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    cert.verify_directly_issued_by(cert)
    assert b"PRIVATE KEY" in ca[1]


def test_server_certificate_verifies_for_its_names(ca: tuple[bytes, bytes]) -> None:
    cert_pem, key_pem = issue_certificate(
        ca[0],
        ca[1],
        common_name="localhost",
        spiffe_id="spiffe://aesp.local/tenant/default/host/host",
        dns_names=["localhost"],
        ip_addresses=["127.0.0.1", "::1"],
        server=True,
    )
    cert = load(cert_pem)
    store = Store([load(ca[0])])
    for name in (
        DNSName("localhost"),
        IPAddress(ipaddress.ip_address("127.0.0.1")),
        IPAddress(ipaddress.ip_address("::1")),
    ):
        chain = PolicyBuilder().store(store).build_server_verifier(name).verify(cert, [])
        assert chain[-1] == load(ca[0])
    with pytest.raises(VerificationError):
        PolicyBuilder().store(store).build_server_verifier(DNSName("evil.example")).verify(cert, [])
    assert ekus(cert) == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert b"PRIVATE KEY" in key_pem


def test_client_certificate_verifies_and_carries_spiffe_id(ca: tuple[bytes, bytes]) -> None:
    spiffe = "spiffe://aesp.local/tenant/acme/runtime/worker"
    cert_pem, _ = issue_certificate(
        ca[0], ca[1], common_name="worker", spiffe_id=spiffe, client=True
    )
    cert = load(cert_pem)
    verified = PolicyBuilder().store(Store([load(ca[0])])).build_client_verifier().verify(cert, [])
    assert verified.subjects == [x509.UniformResourceIdentifier(spiffe)]
    assert ekus(cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert uris(cert) == [spiffe]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # A client-only certificate cannot act as a server.
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store([load(ca[0])])).build_server_verifier(
            DNSName("localhost")
        ).verify(cert, [])


def test_certificate_from_another_ca_does_not_verify(ca: tuple[bytes, bytes]) -> None:
    other = create_ca("Other CA")
    cert_pem, _ = issue_certificate(
        other[0],
        other[1],
        common_name="x",
        spiffe_id="spiffe://aesp.local/tenant/t/client/x",
        client=True,
    )
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store([load(ca[0])])).build_client_verifier().verify(
            load(cert_pem), []
        )


def test_both_ekus_when_asked(ca: tuple[bytes, bytes]) -> None:
    cert_pem, _ = issue_certificate(
        ca[0], ca[1], common_name="h", dns_names=["h"], server=True, client=True
    )
    assert ekus(load(cert_pem)) == {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    }


def test_explicit_validity_window(ca: tuple[bytes, bytes]) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = datetime(2020, 1, 2, tzinfo=UTC)
    cert = load(
        issue_certificate(
            ca[0],
            ca[1],
            common_name="old",
            dns_names=["old"],
            client=True,
            not_before=start,
            not_after=end,
        )[0]
    )
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc == end


def test_validity_is_capped_at_the_ca_expiry() -> None:
    short_ca = create_ca("Short CA", valid_days=10)
    cert = load(
        issue_certificate(
            short_ca[0], short_ca[1], common_name="x", dns_names=["x"], client=True, valid_days=90
        )[0]
    )
    assert cert.not_valid_after_utc == load(short_ca[0]).not_valid_after_utc


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dns_names": ["x"]}, "server=True and/or client=True"),
        ({"client": True}, "at least one subject alternative name"),
        ({"client": True, "spiffe_id": "spiffe://aesp.local/x"}, "SPIFFE ID"),
        ({"client": True, "ip_addresses": ["999.1.1.1"]}, "invalid IP address"),
        ({"client": True, "dns_names": ["bad name"]}, "invalid DNS name"),
        ({"client": True, "dns_names": ["x"], "valid_days": 0}, "valid_days"),
        (
            {
                "client": True,
                "dns_names": ["x"],
                "not_before": datetime(2030, 1, 2, tzinfo=UTC),
                "not_after": datetime(2030, 1, 1, tzinfo=UTC),
            },
            "validity window is empty",
        ),
        ({"client": True, "dns_names": ["x"], "not_before": datetime(2030, 1, 1)}, "timezone"),
    ],
)
def test_issue_certificate_rejects_bad_requests(
    ca: tuple[bytes, bytes], kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        issue_certificate(ca[0], ca[1], common_name="x", **kwargs)  # type: ignore[arg-type]


def test_issue_certificate_rejects_unusable_ca(ca: tuple[bytes, bytes]) -> None:
    other = create_ca("Other CA")
    with pytest.raises(ValueError, match="does not belong to the CA certificate"):
        issue_certificate(ca[0], other[1], common_name="x", dns_names=["x"], client=True)
    leaf_pem, leaf_key = issue_certificate(
        ca[0], ca[1], common_name="x", dns_names=["x"], client=True
    )
    with pytest.raises(ValueError, match="not a CA"):
        issue_certificate(leaf_pem, leaf_key, common_name="y", dns_names=["y"], client=True)
    with pytest.raises(ValueError, match="not a PEM X.509 certificate"):
        issue_certificate(b"junk", ca[1], common_name="y", dns_names=["y"], client=True)


def test_create_ca_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="valid_days"):
        create_ca("x", valid_days=0)
    with pytest.raises(ValueError, match="common_name"):
        create_ca("x" * 65)


# --------------------------------------------------------------------------- on disk


def test_init_dev_pki_writes_a_verifiable_pki(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    pki = init_dev_pki(directory, tenant="acme", runtimes=("example", "aws"), clients=("demo",))
    assert pki == DevPki.at(directory)
    names = sorted(p.name for p in directory.iterdir())
    assert names == sorted(
        [
            "ca.pem", "ca.key", "host.pem", "host.key",
            "runtime-example.pem", "runtime-example.key",
            "runtime-aws.pem", "runtime-aws.key",
            "client-demo.pem", "client-demo.key",
        ]
    )  # fmt: skip
    for key in directory.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    for cert in directory.glob("*.pem"):
        assert not stat.S_IMODE(cert.stat().st_mode) & 0o022, cert

    store = Store([load(pki.ca)])
    host = load(pki.host_cert)
    PolicyBuilder().store(store).build_server_verifier(DNSName("localhost")).verify(host, [])
    PolicyBuilder().store(store).build_server_verifier(
        IPAddress(ipaddress.ip_address("127.0.0.1"))
    ).verify(host, [])
    assert uris(host) == ["spiffe://aesp.local/tenant/acme/host/host"]
    assert ekus(host) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}

    client_verifier = PolicyBuilder().store(store).build_client_verifier()
    for kind, name in (("runtime", "example"), ("runtime", "aws"), ("client", "demo")):
        cert_path, key_path = getattr(pki, kind)(name)
        assert key_path.exists()
        cert = load(cert_path)
        verified = client_verifier.verify(cert, [])
        spiffe = f"spiffe://aesp.local/tenant/acme/{kind}/{name}"
        assert verified.subjects == [x509.UniformResourceIdentifier(spiffe)]
        assert ekus(cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}


def test_init_refuses_to_overwrite_a_ca_unless_forced(tmp_path: Path) -> None:
    pki = init_dev_pki(tmp_path)
    original = pki.ca.read_bytes()
    with pytest.raises(FileExistsError, match="already holds a CA"):
        init_dev_pki(tmp_path)
    assert pki.ca.read_bytes() == original
    init_dev_pki(tmp_path, force=True)
    assert pki.ca.read_bytes() != original
    assert stat.S_IMODE(pki.ca_key.stat().st_mode) == 0o600


def test_init_validates_everything_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid runtime name 'Bad'"):
        init_dev_pki(tmp_path / "a", runtimes=("good", "Bad"))
    with pytest.raises(ValueError, match="more than once"):
        init_dev_pki(tmp_path / "b", clients=("demo", "demo"))
    with pytest.raises(ValueError, match="sequence of names"):
        init_dev_pki(tmp_path / "c", runtimes="example")
    assert not any(tmp_path.iterdir())


def test_issue_into_adds_a_certificate_from_the_same_ca(tmp_path: Path) -> None:
    pki = init_dev_pki(tmp_path, trust_domain="corp.example")
    cert_path, key_path = issue_into(tmp_path, "runtime", "extra", tenant="acme")
    assert (cert_path.name, key_path.name) == ("runtime-extra.pem", "runtime-extra.key")
    assert pki.runtime("extra") == (cert_path, key_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    verified = (
        PolicyBuilder()
        .store(Store([load(pki.ca)]))
        .build_client_verifier()
        .verify(load(cert_path), [])
    )
    # The trust domain is taken from the existing host certificate.
    assert verified.subjects == [
        x509.UniformResourceIdentifier("spiffe://corp.example/tenant/acme/runtime/extra")
    ]
    with pytest.raises(FileExistsError, match="already exists"):
        issue_into(tmp_path, "runtime", "extra", tenant="acme")
    issue_into(tmp_path, "runtime", "extra", tenant="acme", force=True)

    host_cert, _ = issue_into(tmp_path, "host", "replica", tenant="acme", hostnames=("h.local",))
    host = load(host_cert)
    PolicyBuilder().store(Store([load(pki.ca)])).build_server_verifier(DNSName("h.local")).verify(
        host, []
    )


def test_issue_into_without_a_ca_explains_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="aesp certs init"):
        issue_into(tmp_path, "client", "demo", tenant="default")
    init_dev_pki(tmp_path)
    with pytest.raises(ValueError, match="invalid kind"):
        issue_into(tmp_path, "admin", "demo", tenant="default")  # type: ignore[arg-type]


def test_dev_pki_accessors_explain_missing_certificates(tmp_path: Path) -> None:
    pki = init_dev_pki(tmp_path)
    assert pki.client("demo") == (tmp_path / "client-demo.pem", tmp_path / "client-demo.key")
    with pytest.raises(FileNotFoundError, match="aesp certs issue"):
        pki.runtime("missing")
    with pytest.raises(ValueError, match="invalid runtime name"):
        pki.runtime("../ca")


# --------------------------------------------------------------------------- CLI


def test_cli_init_and_issue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "pki"
    code = certs_main(
        [
            "init", "--dir", str(directory), "--tenant", "acme",
            "--runtime", "example", "aws", "--client", "demo", "--trust-domain", "corp.example",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    for spiffe in (
        "spiffe://corp.example/tenant/acme/host/host",
        "spiffe://corp.example/tenant/acme/runtime/example",
        "spiffe://corp.example/tenant/acme/runtime/aws",
        "spiffe://corp.example/tenant/acme/client/demo",
    ):
        assert spiffe in out
    assert "runtime-aws.pem" in out and "ca.key" in out and "0600" in out
    assert certificate_identity_from_pem(
        (directory / "runtime-aws.pem").read_bytes()
    ).spiffe_id == ("spiffe://corp.example/tenant/acme/runtime/aws")

    code = certs_main(
        ["issue", "--dir", str(directory), "--kind", "client", "--name", "ops", "--tenant", "acme"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "spiffe://corp.example/tenant/acme/client/ops" in out
    assert (directory / "client-ops.pem").exists()
    assert stat.S_IMODE((directory / "client-ops.key").stat().st_mode) == 0o600


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert certs_main(["init", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert certs_main(["init", "--dir", str(tmp_path)]) == 1
    assert "already holds a CA" in capsys.readouterr().err
    assert certs_main(["init", "--dir", str(tmp_path), "--force"]) == 0
    capsys.readouterr()
    assert (
        certs_main(
            ["issue", "--dir", str(tmp_path), "--kind", "runtime", "--name", "X", "--tenant", "t"]
        )
        == 1
    )
    assert "invalid runtime name 'X'" in capsys.readouterr().err
    assert certs_main(["issue", "--dir", str(tmp_path), "--kind", "robot", "--name", "x"]) == 2
    assert certs_main([]) == 2
    assert certs_main(["--help"]) == 0
    assert "init" in capsys.readouterr().out


def test_cli_expired_window_is_not_the_default(tmp_path: Path) -> None:
    certs_main(["init", "--dir", str(tmp_path)])
    cert = load(tmp_path / "client-demo.pem")
    now = datetime.now(UTC)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
    assert cert.not_valid_after_utc - now > timedelta(days=80)
