"""LDAP and SAML fixtures: a real OpenLDAP ``slapd`` and an in-process pysaml2 IdP.

Why real parts: the LDAP authenticator must survive what a real directory does with escaped
DNs, filters, unauthenticated binds and the memberof overlay, and the SAML verifier must reject
what real xmlsec1 signatures reject. Mocks would only confirm our own assumptions.

* ``slapd_server`` (session) starts ``slapd`` per the dependency notes §E1 (``slapd.conf`` with the
  memberof overlay, ``-d 0`` in the foreground, ready once ``ldapsearch`` answers) on free
  loopback ports in a private temporary folder, loads ``ldap_seed.ldif``, and stops it at the end.
  Added to the recipe: an ACL that hides passwords, ``allow bind_anon_dn`` (the directory
  itself then *accepts* a DN with an empty password as an anonymous bind, so the authenticator's
  own guard is what the tests exercise), and an ``ldaps://`` listener with a test CA for the
  StartTLS/LDAPS tests. A missing slapd fails the tests with instructions; it never skips.
* ``saml_idp`` (session) is a ``saml2.server.Server`` with an RSA-2048 key made by
  ``cryptography``, trusting our SP's metadata; ``saml_attacker_idp`` claims the same entity id
  with a different key. :meth:`SamlIdp.issue` returns a base64 ``SAMLResponse`` (notes §E3).

Test modules load this file with ``pytest_plugins``.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

with warnings.catch_warnings():
    # pysaml2's IdP module touches a cipher mode that cryptography has deprecated.
    warnings.simplefilter("ignore")
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, time_util
    from saml2.client import Saml2Client
    from saml2.config import IdPConfig, SPConfig
    from saml2.metadata import entity_descriptor
    from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
    from saml2.server import Server
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

SEED_LDIF = Path(__file__).parent / "ldap_seed.ldif"
BASE_DN = "dc=example,dc=test"
ADMIN_DN = f"cn=admin,{BASE_DN}"
ADMIN_PASSWORD = "adminpw"
_SLAPD_READY_TIMEOUT_S = 10.0

IDP_ENTITY_ID = "https://idp.example.test/saml"
SP_ENTITY_ID = "https://aesp.example.test/saml/sp"
ACS_URL = "https://aesp.example.test/saml/acs"
PASSWORD_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"


# --------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class PemFiles:
    """A private key and its certificate, written to PEM files.

    Attributes:
        key: Path of the PKCS#8 private key.
        cert: Path of the certificate.
        ca: Path of the issuing CA's certificate (the certificate itself when self-signed).
    """

    key: Path
    cert: Path
    ca: Path


def _write_key(key: rsa.RSAPrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def make_self_signed(folder: Path, common_name: str) -> PemFiles:
    """Write an RSA-2048 self-signed signing certificate (the SAML IdP's key pair).

    Args:
        folder: Where to write ``<cn>.key`` and ``<cn>.crt``.
        common_name: Subject CN and file stem.

    Returns:
        The files; ``ca`` equals ``cert``.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / f"{common_name}.key", folder / f"{common_name}.crt"
    _write_key(key, key_path)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return PemFiles(key_path, cert_path, cert_path)


def make_server_cert(folder: Path, stem: str, hosts: Sequence[str]) -> PemFiles:
    """Write a test CA and a TLS server certificate it issued for ``hosts``.

    Args:
        folder: Where to write ``<stem>-ca.crt``, ``<stem>.crt`` and ``<stem>.key``.
        stem: File name stem.
        hosts: DNS names and IP addresses for the subjectAltName.

    Returns:
        The server key and certificate, and the CA certificate.
    """
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{stem} test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = PemFiles(folder / f"{stem}.key", folder / f"{stem}.crt", folder / f"{stem}-ca.crt")
    _write_key(key, files.key)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return files


# --------------------------------------------------------------------------- slapd


@dataclass(frozen=True)
class SlapdServer:
    """A running test directory.

    Attributes:
        url: ``ldap://127.0.0.1:<port>`` (plain; StartTLS available).
        ldaps_url: ``ldaps://localhost:<port>``.
        misnamed_ldaps_url: ``ldaps://127.0.0.2:<port>``, same server, but the certificate does
            not name that address.
        ca_file: CA certificate that issued the server's TLS certificate.
        other_ca_file: A CA that did *not* issue it (for negative TLS tests).
        base_dn: The suffix, ``dc=example,dc=test``.
        admin_dn: The rootdn.
        admin_password: The rootdn's password.
        folder: The temporary folder holding configuration, database and log.
    """

    url: str
    ldaps_url: str
    misnamed_ldaps_url: str
    ca_file: Path
    other_ca_file: Path
    base_dn: str
    admin_dn: str
    admin_password: str
    folder: Path


@contextmanager
def _private_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder owned by one fixture (like ``mktemp -d``), removed afterwards.

    Not ``tmp_path_factory``: test runs started in parallel on one machine prune each other's
    numbered pytest folders, and slapd's database or the IdP's key must not vanish mid-session.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        pytest.fail(
            f"'{name}' is not installed. The LDAP tests need a real OpenLDAP server: run "
            "scripts/system_deps.sh (as root it installs the Debian packages slapd and "
            "ldap-utils), or apt-get install slapd ldap-utils.",
            pytrace=False,
        )
    return path


def _slapd_conf(folder: Path, rootpw: str, tls: PemFiles) -> str:
    return "\n".join(
        [
            "include /etc/ldap/schema/core.schema",
            "include /etc/ldap/schema/cosine.schema",
            "include /etc/ldap/schema/inetorgperson.schema",
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            "moduleload memberof",
            f"pidfile {folder}/slapd.pid",
            # A DN with an empty password becomes an anonymous bind that *succeeds* (RFC 4513
            # 5.1.2); the authenticator must refuse it on its own.
            "allow bind_anon_dn",
            f"TLSCACertificateFile {tls.ca}",
            f"TLSCertificateFile {tls.cert}",
            f"TLSCertificateKeyFile {tls.key}",
            "database mdb",
            "maxsize 104857600",
            f'suffix "{BASE_DN}"',
            f'rootdn "{ADMIN_DN}"',
            f"rootpw {rootpw}",
            f"directory {folder}/db",
            "overlay memberof",
            "access to attrs=userPassword by self write by anonymous auth by * none",
            "access to * by * read",
            "",
        ]
    )


def _run(args: Sequence[str], what: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}): {done.stderr.strip()}", pytrace=False)
    return done.stdout


def _launch_slapd(
    slapd: str, ldapsearch: str, conf: Path, folder: Path
) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start slapd in the foreground (``-d 0``) and wait until ``ldapsearch`` gets an answer.

    A port picked by :func:`free_port` can be taken by another process before slapd binds it,
    so a start whose slapd exits early is retried on fresh ports (three attempts).

    Returns:
        The process, the plain LDAP port and the LDAPS port.
    """
    log_path = folder / "slapd.log"
    for _attempt in range(3):
        port = free_port()
        tls_port = free_port()
        while tls_port == port:
            tls_port = free_port()
        url = f"ldap://127.0.0.1:{port}"
        # 127.0.0.2 is a loopback address the server certificate does not name.
        listeners = [f"{url}/", f"ldaps://127.0.0.1:{tls_port}/", f"ldaps://127.0.0.2:{tls_port}/"]
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [slapd, "-f", str(conf), "-h", " ".join(listeners), "-d", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + _SLAPD_READY_TIMEOUT_S
        probe = [ldapsearch, "-x", "-H", url, "-b", "", "-s", "base"]
        while proc.poll() is None and time.monotonic() < deadline:
            if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
                return proc, port, tls_port
            time.sleep(0.02)
        if proc.poll() is None:  # alive but silent: no point in retrying
            proc.kill()
            proc.wait(timeout=5)
            break
    pytest.fail(
        f"slapd did not start (exit {proc.poll()}); its log: {log_path.read_text()[-2000:]}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def slapd_server() -> Iterator[SlapdServer]:
    """Start a seeded ``slapd`` on free loopback ports; stop it after the session."""
    slapd, slaptest, slappasswd = _tool("slapd"), _tool("slaptest"), _tool("slappasswd")
    ldapsearch, ldapadd = _tool("ldapsearch"), _tool("ldapadd")
    with _private_folder("aesp-slapd-") as folder:
        yield from _run_slapd(folder, slapd, slaptest, slappasswd, ldapsearch, ldapadd)


def _run_slapd(
    folder: Path, slapd: str, slaptest: str, slappasswd: str, ldapsearch: str, ldapadd: str
) -> Iterator[SlapdServer]:
    (folder / "db").mkdir()
    tls = make_server_cert(folder, "slapd", ["localhost", "127.0.0.1"])
    other = make_server_cert(folder, "stranger", ["localhost"])
    rootpw = _run([slappasswd, "-s", ADMIN_PASSWORD], "slappasswd").strip()
    conf = folder / "slapd.conf"
    conf.write_text(_slapd_conf(folder, rootpw, tls))
    _run([slaptest, "-u", "-f", str(conf)], "slaptest")

    proc, port, tls_port = _launch_slapd(slapd, ldapsearch, conf, folder)
    url, ldaps_url = f"ldap://127.0.0.1:{port}", f"ldaps://localhost:{tls_port}"
    try:
        _run(
            [ldapadd, "-x", "-H", url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, "-f", str(SEED_LDIF)],
            "ldapadd of ldap_seed.ldif",
        )
        yield SlapdServer(
            url=url,
            ldaps_url=ldaps_url,
            misnamed_ldaps_url=f"ldaps://127.0.0.2:{tls_port}",
            ca_file=tls.ca,
            other_ca_file=other.ca,
            base_dn=BASE_DN,
            admin_dn=ADMIN_DN,
            admin_password=ADMIN_PASSWORD,
            folder=folder,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# --------------------------------------------------------------------------- SAML IdP


@dataclass(frozen=True)
class SamlIdp:
    """An in-process pysaml2 IdP that issues responses to our SP.

    Attributes:
        server: The ``saml2.server.Server``.
        metadata: Its metadata XML (what the SP is configured with).
        entity_id: Its entity id.
    """

    server: Server
    metadata: str
    entity_id: str

    def issue(
        self,
        *,
        user: str = "alice",
        attributes: Mapping[str, Sequence[str]] | None = None,
        in_response_to: str | None = None,
        sign_response: bool = False,
        sign_assertion: bool = True,
        name_id_format: str = NAMEID_FORMAT_PERSISTENT,
        authn_context: str = PASSWORD_CONTEXT,
        shift_s: float = 0.0,
        sign_alg: str = SIG_RSA_SHA256,
        digest_alg: str = DIGEST_SHA256,
    ) -> str:
        """Issue a ``SAMLResponse`` for ``user`` and return it base64-encoded (HTTP-POST).

        Args:
            user: The NameID value.
            attributes: Attribute statement; defaults to a display name and ``approvers``.
            in_response_to: The AuthnRequest id answered (``None`` = IdP-initiated).
            sign_response: Sign the ``<samlp:Response>``.
            sign_assertion: Sign the ``<saml:Assertion>``.
            name_id_format: NameID format URI.
            authn_context: ``AuthnContextClassRef`` value.
            shift_s: Pretend the IdP's clock is off by this many seconds (all times move).
            sign_alg: XML-DSig signature method.
            digest_alg: XML-DSig digest method.

        Returns:
            The base64 text a browser would POST.
        """
        identity = {k: list(v) for k, v in (attributes or default_attributes(user)).items()}
        with ExitStack() as stack:
            if shift_s:
                _shift_idp_clock(stack, shift_s)
            response = self.server.create_authn_response(
                identity=identity,
                in_response_to=in_response_to,
                destination=ACS_URL,
                sp_entity_id=SP_ENTITY_ID,
                name_id=NameID(format=name_id_format, text=user),
                authn={"class_ref": authn_context, "authn_auth": self.entity_id},
                sign_response=sign_response,
                sign_assertion=sign_assertion,
                sign_alg=sign_alg,
                digest_alg=digest_alg,
            )
        return base64.b64encode(str(response).encode("utf-8")).decode("ascii")


def default_attributes(user: str) -> dict[str, list[str]]:
    """The attributes the IdP releases unless a test says otherwise."""
    return {"displayName": [f"{user.title()} Example"], "groups": ["approvers", "staff"]}


def _shift_idp_clock(stack: ExitStack, shift_s: float) -> None:
    """Make pysaml2's IdP stamp every time (IssueInstant, NotBefore, NotOnOrAfter) ``shift_s`` off."""
    original_instant = time_util.instant
    original_in_a_while = time_util.time_in_a_while

    def instant(format: str = time_util.TIME_FORMAT, time_stamp: float = 0) -> str:
        return original_instant(format, (time_stamp or time.time()) + shift_s)

    def in_a_while(format: str = time_util.TIME_FORMAT, **delta: int) -> str:
        moved = original_in_a_while(**delta) + dt.timedelta(seconds=shift_s)
        return moved.strftime(format)

    for target in ("saml2.assertion.instant", "saml2.entity.instant", "saml2.s_utils.instant"):
        stack.enter_context(mock.patch(target, instant))
    stack.enter_context(mock.patch("saml2.assertion.in_a_while", in_a_while))


def _sp_metadata(xmlsec: str) -> str:
    config = SPConfig()
    config.load(
        {
            "entityid": SP_ENTITY_ID,
            "xmlsec_binary": xmlsec,
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(ACS_URL, BINDING_HTTP_POST)]},
                    "want_assertions_or_response_signed": True,
                }
            },
        }
    )
    return str(entity_descriptor(config))


def _idp(folder: Path, stem: str, sp_metadata: str, xmlsec: str) -> SamlIdp:
    keys = make_self_signed(folder, stem)
    config = IdPConfig()
    config.load(
        {
            "entityid": IDP_ENTITY_ID,
            "xmlsec_binary": xmlsec,
            "key_file": str(keys.key),
            "cert_file": str(keys.cert),
            "metadata": {"inline": [sp_metadata]},
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(f"{IDP_ENTITY_ID}/sso", BINDING_HTTP_REDIRECT)]
                    },
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "attribute_restrictions": None,
                            "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                        }
                    },
                }
            },
        }
    )
    return SamlIdp(Server(config=config), str(entity_descriptor(config)), IDP_ENTITY_ID)


def _xmlsec() -> str:
    path = shutil.which("xmlsec1")
    if path is None:
        pytest.fail(
            "'xmlsec1' is not installed. The SAML tests need it: run scripts/system_deps.sh "
            "(installs the Debian package xmlsec1) or apt-get install xmlsec1.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def saml_idp() -> Iterator[SamlIdp]:
    """The trusted IdP: its metadata configures the verifier under test."""
    xmlsec = _xmlsec()
    with _private_folder("aesp-saml-idp-") as folder:
        yield _idp(folder, "idp", _sp_metadata(xmlsec), xmlsec)


@pytest.fixture(scope="session")
def saml_attacker_idp() -> Iterator[SamlIdp]:
    """An IdP that claims the trusted IdP's entity id but signs with its own key."""
    xmlsec = _xmlsec()
    with _private_folder("aesp-saml-evil-") as folder:
        yield _idp(folder, "evil", _sp_metadata(xmlsec), xmlsec)


@pytest.fixture(scope="session")
def saml_sp_client(saml_idp: SamlIdp) -> Saml2Client:
    """A plain pysaml2 SP, used only to create real ``AuthnRequest`` messages (SP-initiated SSO)."""
    config = SPConfig()
    config.load(
        {
            "entityid": SP_ENTITY_ID,
            "xmlsec_binary": _xmlsec(),
            "metadata": {"inline": [saml_idp.metadata]},
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(ACS_URL, BINDING_HTTP_POST)]},
                    "want_assertions_or_response_signed": True,
                }
            },
        }
    )
    return Saml2Client(config=config)
