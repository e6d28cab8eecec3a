"""LdapAuthenticator against a real OpenLDAP slapd (SPEC checklist 148, 150; DESIGN §9).

The directory is seeded from ``ldap_seed.ldif``: alice (approvers), bob (no group under
``ou=groups``), carol (approvers, marked disabled) and a user whose uid is made of DN and filter
metacharacters. Every credential refusal must be ``INVALID_CREDENTIALS`` with the one sentence
that does not reveal whether the user exists; only an unreachable or misconfigured directory may
give ``AUTHENTICATION_FAILED``.
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from aesp.core.errors import AuthenticationError, ConfigurationError
from aesp.identity.ldap import (
    INVALID_CREDENTIALS_MESSAGE,
    UNAVAILABLE_MESSAGE,
    LdapAuthenticator,
    LdapSettings,
    LdapUserSearch,
    normalize_dn,
)

if TYPE_CHECKING:
    from tests.integration.identity.conftest_ldap_saml import SlapdServer

pytest_plugins = ["tests.integration.identity.conftest_ldap_saml"]

PEOPLE = "ou=people,dc=example,dc=test"
GROUPS = "ou=groups,dc=example,dc=test"
APPROVERS = f"cn=approvers,{GROUPS}"
AUDITORS = f"cn=auditors,{GROUPS}"
EVE = "eve,ops+(eu)*\\=x"
TENANT = "acme"
ROLES = {
    "approvers": "approver",
    AUDITORS.upper(): ["auditor", "reader"],
    "admins": "admin",
}

INJECTIONS = [
    "*",
    "alice*",
    "alice)(uid=*",
    "alice,ou=people",
    f"alice,{PEOPLE}",
    "uid=alice",
    "\x00",
    "alice\x00",
    "\\00",
    "alice\\00",
    "admin*)(|(objectClass=*",
    "*)(uid=*))(|(uid=*",
    "alice\n",
    "alice\u200b",
    " ",
    "a" * 257,
]


def _settings(slapd: SlapdServer, **overrides: Any) -> LdapSettings:
    base: dict[str, Any] = {
        "url": slapd.url,
        "tenant_id": TENANT,
        "user_dn_template": f"uid={{username}},{PEOPLE}",
        "group_base": GROUPS,
        "group_to_roles": ROLES,
        "connect_timeout_s": 2.0,
        "receive_timeout_s": 2.0,
    }
    base.update(overrides)
    return LdapSettings(**base)


def _search_mode(slapd: SlapdServer, **overrides: Any) -> LdapSettings:
    search = LdapUserSearch(
        bind_dn="cn=reader,ou=services,dc=example,dc=test",
        bind_password="reader-pw",
        base_dn=PEOPLE,
        attribute="uid",
        object_filter="(objectClass=inetOrgPerson)",
    )
    return _settings(slapd, user_dn_template=None, user_search=search, **overrides)


@pytest.fixture(scope="module")
def template_auth(slapd_server: SlapdServer) -> LdapAuthenticator:
    """Template mode, memberOf groups, disabled accounts marked by employeeType."""
    return LdapAuthenticator(_settings(slapd_server, disabled_filter="(employeeType=disabled)"))


@pytest.fixture(scope="module")
def search_auth(slapd_server: SlapdServer) -> LdapAuthenticator:
    """Search mode with a service account, groups found by a groupOfNames search."""
    return LdapAuthenticator(
        _search_mode(
            slapd_server, group_lookup="group_search", disabled_filter="(employeeType=disabled)"
        )
    )


@pytest.fixture(params=["template", "search"])
def auth(
    request: pytest.FixtureRequest,
    template_auth: LdapAuthenticator,
    search_auth: LdapAuthenticator,
) -> LdapAuthenticator:
    """Both modes, for tests whose outcome must not depend on the mode."""
    return template_auth if request.param == "template" else search_auth


def _refused(auth: LdapAuthenticator, username: str, password: str) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as info:
        auth.authenticate(username, password)
    return info.value


# --------------------------------------------------------------------------- success


def test_alice_binds_and_gets_groups_mapped_to_roles(
    auth: LdapAuthenticator, slapd_server: SlapdServer
) -> None:
    identity = auth.authenticate("alice", "alice-pw")

    assert identity.principal_id == f"ldap|{slapd_server.url}|alice"
    assert identity.tenant_id == TENANT
    assert identity.source == "ldap"
    assert identity.issuer == slapd_server.url
    assert identity.subject == "alice"
    assert identity.display_name == "Alice Approver"
    assert identity.groups == (APPROVERS,)
    assert identity.claims["roles"] == "approver"
    assert normalize_dn(identity.claims["dn"]) == normalize_dn(f"uid=alice,{PEOPLE}")
    assert identity.expires_at_ms == 0 and identity.mfa is False


def test_user_name_case_does_not_create_a_second_principal(auth: LdapAuthenticator) -> None:
    assert auth.authenticate("ALICE", "alice-pw").principal_id.endswith("|alice")


def test_user_without_groups_gets_no_roles_and_groups_outside_group_base_are_ignored(
    auth: LdapAuthenticator,
) -> None:
    # bob is a member of cn=admins,ou=legacy, which is outside group_base: no "admin" role.
    identity = auth.authenticate("bob", "bob-pw")
    assert identity.groups == ()
    assert identity.claims["roles"] == ""
    assert identity.display_name == "Bob Builder"  # no displayName: cn is the fallback


def test_without_group_base_every_group_counts(slapd_server: SlapdServer) -> None:
    identity = LdapAuthenticator(_settings(slapd_server, group_base=None)).authenticate(
        "bob", "bob-pw"
    )
    assert [normalize_dn(g) for g in identity.groups] == [
        normalize_dn(f"cn=admins,ou=legacy,{slapd_server.base_dn}")
    ]
    assert identity.claims["roles"] == "admin"


def test_user_name_with_metacharacters_is_escaped_for_dn_and_filter(
    auth: LdapAuthenticator, slapd_server: SlapdServer
) -> None:
    # The uid holds , + ( ) * \ = : each must be escaped (RFC 4514 in the DN, RFC 4515 in the
    # user search filter and in the group search filter on her DN) for her login to work.
    identity = auth.authenticate(EVE, "eve-pw")
    assert identity.subject == EVE
    assert identity.principal_id == f"ldap|{slapd_server.url}|{EVE}"
    assert identity.groups == (AUDITORS,)
    assert identity.claims["roles"] == "auditor,reader"


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("alice", "wrong-pw", id="wrong-password"),
        pytest.param("alice", "alice-pw ", id="password-with-extra-space"),
        pytest.param("mallory", "alice-pw", id="unknown-user"),
        pytest.param("alice", "", id="empty-password"),
        pytest.param("", "alice-pw", id="empty-user"),
        pytest.param("carol", "carol-pw", id="disabled-account"),
    ],
)
def test_bad_credentials_give_one_sentence(
    auth: LdapAuthenticator, username: str, password: str
) -> None:
    error = _refused(auth, username, password)
    assert error.code == "INVALID_CREDENTIALS"
    assert error.message == INVALID_CREDENTIALS_MESSAGE


def test_directory_accepts_empty_password_as_anonymous_but_authenticator_refuses(
    template_auth: LdapAuthenticator, slapd_server: SlapdServer
) -> None:
    # The test directory allows unauthenticated binds (allow bind_anon_dn): a DN with an empty
    # password "succeeds" as anonymous. Only the authenticator's own check stands in the way.
    who = subprocess.run(
        ["ldapwhoami", "-x", "-H", slapd_server.url, "-D", f"uid=alice,{PEOPLE}", "-w", ""],
        capture_output=True,
        text=True,
        check=False,
    )
    assert who.returncode == 0 and who.stdout.strip() == "anonymous"
    error = _refused(template_auth, "alice", "")
    assert (error.code, error.message) == ("INVALID_CREDENTIALS", INVALID_CREDENTIALS_MESSAGE)


def test_disabled_filter_is_what_refuses_carol(slapd_server: SlapdServer) -> None:
    identity = LdapAuthenticator(_settings(slapd_server)).authenticate("carol", "carol-pw")
    assert identity.groups == (APPROVERS,)


@pytest.mark.parametrize("username", INJECTIONS, ids=[repr(u)[:30] for u in INJECTIONS])
def test_ldap_injection_in_user_name_never_authenticates(
    auth: LdapAuthenticator, username: str
) -> None:
    # alice's real password: an injection that reached her entry would succeed.
    error = _refused(auth, username, "alice-pw")
    assert error.code == "INVALID_CREDENTIALS"
    assert error.message == INVALID_CREDENTIALS_MESSAGE


def test_refusal_sentences_do_not_reveal_whether_the_user_exists(
    auth: LdapAuthenticator,
) -> None:
    known = _refused(auth, "alice", "nope")
    unknown = _refused(auth, "no-such-user", "nope")
    assert (known.code, known.message) == (unknown.code, unknown.message)
    assert "alice" not in known.message


# --------------------------------------------------------------------------- the directory


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener accepts TCP connections but never answers an LDAP request."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_unreachable_directory_is_authentication_failed(
    slapd_server: SlapdServer, closed_port: int
) -> None:
    auth = LdapAuthenticator(_settings(slapd_server, url=f"ldap://127.0.0.1:{closed_port}"))
    error = _refused(auth, "alice", "alice-pw")
    assert error.code == "AUTHENTICATION_FAILED"
    assert error.message == UNAVAILABLE_MESSAGE
    assert error.retry_allowed


def test_directory_that_never_answers_times_out(
    slapd_server: SlapdServer, silent_port: int
) -> None:
    settings = _settings(slapd_server, url=f"ldap://127.0.0.1:{silent_port}", receive_timeout_s=1)
    started = time.monotonic()
    error = _refused(LdapAuthenticator(settings), "alice", "alice-pw")
    assert error.code == "AUTHENTICATION_FAILED"
    assert time.monotonic() - started < 4


def test_wrong_service_account_password_is_authentication_failed(
    slapd_server: SlapdServer,
) -> None:
    settings = _search_mode(slapd_server)
    assert settings.user_search is not None
    broken = dataclasses.replace(
        settings, user_search=dataclasses.replace(settings.user_search, bind_password="stale")
    )
    error = _refused(LdapAuthenticator(broken), "alice", "alice-pw")
    assert (error.code, error.message) == ("AUTHENTICATION_FAILED", UNAVAILABLE_MESSAGE)


def test_missing_search_base_is_authentication_failed(slapd_server: SlapdServer) -> None:
    settings = _search_mode(slapd_server)
    assert settings.user_search is not None
    broken = dataclasses.replace(
        settings,
        user_search=dataclasses.replace(settings.user_search, base_dn="ou=gone,dc=example,dc=test"),
    )
    assert _refused(LdapAuthenticator(broken), "alice", "alice-pw").code == "AUTHENTICATION_FAILED"


# --------------------------------------------------------------------------- TLS
# ldap3 checks certificate names with ssl.match_hostname, which Python 3.11 deprecates.
_MATCH_HOSTNAME = pytest.mark.filterwarnings("ignore:ssl.match_hostname:DeprecationWarning")


@_MATCH_HOSTNAME
def test_starttls_with_the_directory_ca(slapd_server: SlapdServer) -> None:
    url = slapd_server.url.replace("127.0.0.1", "localhost")
    settings = _settings(
        slapd_server, url=url, start_tls=True, tls_ca_file=str(slapd_server.ca_file)
    )
    assert LdapAuthenticator(settings).authenticate("alice", "alice-pw").subject == "alice"


@_MATCH_HOSTNAME
def test_ldaps_with_the_directory_ca(slapd_server: SlapdServer) -> None:
    settings = _settings(
        slapd_server, url=slapd_server.ldaps_url, tls_ca_file=str(slapd_server.ca_file)
    )
    identity = LdapAuthenticator(settings).authenticate("alice", "alice-pw")
    assert identity.principal_id == f"ldap|{slapd_server.ldaps_url}|alice"


@_MATCH_HOSTNAME
@pytest.mark.parametrize("mode", ["ldaps-other-ca", "starttls-other-ca", "ldaps-wrong-name"])
def test_untrusted_directory_certificate_is_authentication_failed(
    slapd_server: SlapdServer, mode: str
) -> None:
    other_ca, right_ca = str(slapd_server.other_ca_file), str(slapd_server.ca_file)
    if mode == "ldaps-other-ca":
        settings = _settings(slapd_server, url=slapd_server.ldaps_url, tls_ca_file=other_ca)
    elif mode == "starttls-other-ca":
        settings = _settings(slapd_server, start_tls=True, tls_ca_file=other_ca)
    else:
        settings = _settings(
            slapd_server, url=slapd_server.misnamed_ldaps_url, tls_ca_file=right_ca
        )
    error = _refused(LdapAuthenticator(settings), "alice", "alice-pw")
    assert (error.code, error.message) == ("AUTHENTICATION_FAILED", UNAVAILABLE_MESSAGE)


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"url": "ldap://ldap.example.test"}, "in the clear"),
        ({"url": "http://127.0.0.1:389"}, "ldap://"),
        ({"user_dn_template": "uid=alice,ou=people,dc=example,dc=test"}, "{username}"),
        ({"user_dn_template": "ou=people,uid={username}"}, "{username}"),
        ({"group_lookup": "group_search", "group_base": None}, "group_base"),
        ({"group_to_roles": {"approvers": "a,b"}}, "without commas"),
        ({"disabled_filter": "employeeType=disabled"}, "parenthesised"),
        ({"tenant_id": ""}, "tenant_id"),
    ],
)
def test_unusable_settings_stop_start_up(
    slapd_server: SlapdServer, overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        LdapAuthenticator(_settings(slapd_server, **overrides))
    assert info.value.code == "INVALID_CONFIG"
    assert fragment in info.value.message


def test_cleartext_to_a_remote_host_needs_explicit_consent(slapd_server: SlapdServer) -> None:
    settings = _settings(slapd_server, url="ldap://ldap.example.test", allow_cleartext=True)
    assert LdapAuthenticator(settings).settings.allow_cleartext
