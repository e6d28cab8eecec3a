"""The gateway, identity and profile sections: typed, validated, every problem names its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from aesp.core.config import (
    DEFAULT_OIDC_ALGORITHMS,
    PORTS,
    HostConfig,
    parse_config,
)
from aesp.core.errors import ConfigurationError
from aesp.identity.jwks import DEFAULT_ALGORITHMS

BASE = Path("/srv")


def _parse(text: str) -> HostConfig:
    return parse_config(tomllib.loads(text), base=BASE)


def test_defaults_accept_certificates_and_refuse_bearer_tokens() -> None:
    cfg = parse_config({}, base=BASE)
    gw = cfg.gateway
    assert (gw.principal_rate_per_s, gw.principal_burst) == (100.0, 200)
    assert (gw.tenant_rate_per_s, gw.tenant_burst) == (1000.0, 2000)
    assert gw.max_request_bytes == 4 * 1024 * 1024
    assert gw.client_certificates is True
    assert cfg.identity.oidc is None and cfg.identity.ldap is None
    assert cfg.identity.api_keys.prefix == "aesp" and cfg.identity.api_keys.pepper_file is None
    assert cfg.profile.default == "local"
    assert cfg.client_tls_listen == ""


def test_the_oidc_default_allow_list_is_the_verifiers() -> None:
    assert DEFAULT_OIDC_ALGORITHMS == DEFAULT_ALGORITHMS


def test_a_full_configuration_parses_into_typed_values() -> None:
    cfg = _parse(
        """
        [host]
        client_tls_listen = "127.0.0.1:7445"
        [gateway]
        principal_rate_per_s = 5
        principal_burst = 3
        client_certificates = false
        [identity.oidc]
        issuer = "https://idp.example"
        audience = "urn:aesp:api"
        tenant_claim = "tid"
        tenants = ["acme", "initech"]
        algorithms = ["ES256"]
        leeway_s = 5
        [identity.api_keys]
        prefix = "acme"
        pepper_file = "secrets/pepper"
        [identity.ldap]
        url = "ldaps://ldap.example"
        tenant_id = "acme"
        user_dn_template = "uid={username},ou=people,dc=example,dc=test"
        tls_ca_file = "ldap-ca.pem"
        cache_ttl_s = 30
        [identity.ldap.group_to_roles]
        "cn=admins,ou=groups,dc=example,dc=test" = "admin"
        readers = ["reader", "viewer"]
        [profile]
        default = "aws"
        audit = "local"
        """
    )
    assert cfg.client_tls_listen == "127.0.0.1:7445"
    assert cfg.gateway.principal_rate_per_s == 5.0 and isinstance(
        cfg.gateway.principal_rate_per_s, float
    )
    assert cfg.gateway.client_certificates is False
    oidc = cfg.identity.oidc
    assert oidc is not None
    assert (oidc.tenant_claim, oidc.tenants, oidc.algorithms) == (
        "tid",
        ("acme", "initech"),
        ("ES256",),
    )
    assert cfg.identity.api_keys.pepper_file == BASE / "secrets/pepper"
    ldap = cfg.identity.ldap
    assert ldap is not None and ldap.tls_ca_file == BASE / "ldap-ca.pem"
    assert ldap.group_to_roles == {
        "cn=admins,ou=groups,dc=example,dc=test": ("admin",),
        "readers": ("reader", "viewer"),
    }
    assert cfg.profile.choice(["identity", "audit", "state"]) == {
        "identity": "aws",
        "audit": "local",
        "state": "aws",
    }


def test_ldap_search_mode_reads_its_own_table() -> None:
    cfg = _parse(
        """
        [identity.ldap]
        url = "ldap://127.0.0.1:3890"
        tenant_id = "acme"
        [identity.ldap.user_search]
        bind_dn = "cn=svc,dc=example,dc=test"
        bind_password_file = "svc.pw"
        base_dn = "ou=people,dc=example,dc=test"
        """
    )
    assert cfg.identity.ldap is not None and cfg.identity.ldap.user_search is not None
    assert cfg.identity.ldap.user_search.bind_password_file == BASE / "svc.pw"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[gateway]\nprincipal_brust = 3", "gateway.principal_brust"),
        ("[gateway]\nprincipal_burst = 0", "gateway.principal_burst"),
        ("[gateway]\ntenant_burst = 2.5", "gateway.tenant_burst"),
        ("[gateway]\nprincipal_rate_per_s = 0", "gateway.principal_rate_per_s"),
        ("[gateway]\ntenant_rate_per_s = nan", "gateway.tenant_rate_per_s"),
        ("[gateway]\nmax_request_bytes = -1", "gateway.max_request_bytes"),
        ('[gateway]\nclient_certificates = "yes"', "gateway.client_certificates"),
        ('[host]\nclient_tls_listen = "nowhere"', "host.client_tls_listen"),
        ("[identity]\nsaml = {}", "identity.saml"),
        ('[identity.oidc]\naudience = "a"\ntenant = "t"', "identity.oidc.issuer"),
        (
            '[identity.oidc]\nissuer = "http://idp.example"\naudience = "a"\ntenant = "t"',
            "identity.oidc.issuer",
        ),
        ('[identity.oidc]\nissuer = "https://i"\naudience = "a"', "identity.oidc.tenant"),
        (
            '[identity.oidc]\nissuer = "https://i"\naudience = "a"\ntenant = "t"\n'
            'tenant_claim = "tid"\ntenants = ["t"]',
            "identity.oidc.tenant",
        ),
        (
            '[identity.oidc]\nissuer = "https://i"\naudience = "a"\ntenant_claim = "tid"',
            "identity.oidc.tenants",
        ),
        (
            '[identity.oidc]\nissuer = "https://i"\naudience = "a"\ntenant = "t"\n'
            'algorithms = ["HS256"]',
            "identity.oidc.algorithms",
        ),
        (
            '[identity.oidc]\nissuer = "https://i"\naudience = "a"\ntenant = "t"\n'
            'algorithms = ["none"]',
            "identity.oidc.algorithms",
        ),
        (
            '[identity.oidc]\nissuer = "https://i"\naudience = "a"\ntenant = "t"\nalgorithms = []',
            "identity.oidc.algorithms",
        ),
        (
            '[identity.oidc]\nissuer = "https://i"\naudience = "a"\ntenant = "t"\nleeway_s = -1',
            "identity.oidc.leeway_s",
        ),
        ('[identity.api_keys]\nprefix = "Acme_"', "identity.api_keys.prefix"),
        ('[identity.api_keys]\npepper_file = ""', "identity.api_keys.pepper_file"),
        ('[identity.ldap]\nurl = "ldap://h"\ntenant_id = "t"', "identity.ldap.user_dn_template"),
        (
            '[identity.ldap]\nurl = "ldap://h"\ntenant_id = "t"\nuser_dn_template = "uid={username},dc=x"\n'
            'group_lookup = "magic"',
            "identity.ldap.group_lookup",
        ),
        (
            '[identity.ldap]\nurl = "ldap://h"\ntenant_id = "t"\nuser_dn_template = "uid={username},dc=x"\n'
            "[identity.ldap.group_to_roles]\nadmins = 3",
            "identity.ldap.group_to_roles.admins",
        ),
        (
            '[identity.ldap]\nurl = "ldap://h"\ntenant_id = "t"\n'
            '[identity.ldap.user_search]\nbind_dn = "cn=a"\nbase_dn = "dc=x"',
            "identity.ldap.user_search.bind_password",
        ),
        ('[profile]\ndefault = "AWS"', "profile.default"),
        ('[profile]\nsessions = "local"', "profile.sessions"),
        ('[profile]\naudit = "../x"', "profile.audit"),
    ],
)
def test_invalid_settings_name_their_key(text: str, key: str) -> None:
    with pytest.raises(ConfigurationError, match=key.replace(".", r"\.")) as info:
        _parse(text)
    assert info.value.code == "INVALID_CONFIG"


def test_every_port_of_the_design_can_be_overridden() -> None:
    cfg = _parse("[profile]\n" + "\n".join(f'{port} = "local"' for port in PORTS))
    assert set(cfg.profile.choice(PORTS).values()) == {"local"}


def test_choice_refuses_an_unknown_port_name() -> None:
    with pytest.raises(ValueError, match="unknown port names"):
        parse_config({}, base=BASE).profile.choice(["sessions"])


def test_bad_values_in_code_are_refused_too() -> None:
    from aesp.core.config import GatewayConfig, ProfileConfig

    with pytest.raises(ConfigurationError, match="gateway.tenant_burst"):
        GatewayConfig(tenant_burst=True)
    with pytest.raises(ConfigurationError, match="profile.default"):
        ProfileConfig(default="")
