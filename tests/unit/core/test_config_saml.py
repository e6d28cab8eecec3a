"""``[identity.saml]`` and ``[identity.host_tokens]``: typed, validated, every problem names its key."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from aesp.core.config import HostConfig, HostTokensConfig, SamlConfig, parse_config
from aesp.core.errors import ConfigurationError
from aesp.identity import saml
from aesp.identity.host_tokens import DEFAULT_TTL_S, MAX_TTL_S
from aesp.server.gateway.build import saml_settings

BASE = Path("/srv/aesp")
MINIMAL = {
    "idp_metadata": "idp-metadata.xml",
    "sp_entity_id": "https://aesp.example.test/saml/sp",
    "acs_url": "https://aesp.example.test/saml/acs",
    "tenant_id": "acme",
}


def _parse(text: str) -> HostConfig:
    return parse_config(tomllib.loads(text), base=BASE)


def _saml(**overrides: Any) -> dict[str, Any]:
    section = {**MINIMAL, **overrides}
    return {"identity": {"saml": {k: v for k, v in section.items() if v is not None}}}


def _refused(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"'{key}'") as info:
        parse_config(raw, base=BASE)
    assert info.value.code == "INVALID_CONFIG"


def test_defaults_accept_no_saml_and_issue_fifteen_minute_tokens() -> None:
    cfg = parse_config({}, base=BASE)
    assert cfg.identity.saml is None
    assert cfg.identity.host_tokens == HostTokensConfig(ttl_s=900) and DEFAULT_TTL_S == 900


def test_a_full_saml_section_parses_into_typed_values() -> None:
    cfg = _parse(
        """
        [identity.saml]
        idp_metadata = "saml/idp.xml"
        sp_entity_id = "https://aesp.example.test/saml/sp"
        acs_url = "https://aesp.example.test/saml/acs"
        idp_entity_id = "https://idp.example.test/saml"
        tenant_attribute = "tenant"
        allowed_tenants = ["acme", "initech"]
        groups_attribute = "memberOf"
        display_name_attribute = "cn"
        subject_attribute = "uid"
        clock_skew_s = 30
        mfa_authn_contexts = ["https://refeds.org/profile/mfa"]
        signature_algorithms = ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
        digest_algorithms = ["http://www.w3.org/2001/04/xmlenc#sha256"]
        max_response_bytes = 65536
        xmlsec_binary = "/usr/bin/xmlsec1"
        [identity.saml.group_to_roles]
        approvers = "approver"
        staff = ["reader", "viewer"]
        [identity.host_tokens]
        ttl_s = 600
        """
    )
    s = cfg.identity.saml
    assert s is not None
    assert s.idp_metadata == BASE / "saml/idp.xml"  # relative to the configuration file
    assert s.xmlsec_binary == Path("/usr/bin/xmlsec1")
    assert (s.tenant_id, s.tenant_attribute, s.allowed_tenants) == (
        None,
        "tenant",
        ("acme", "initech"),
    )
    assert dict(s.group_to_roles) == {"approvers": ("approver",), "staff": ("reader", "viewer")}
    assert (s.clock_skew_s, s.max_response_bytes, s.subject_attribute) == (30, 65536, "uid")
    assert s.mfa_authn_contexts == ("https://refeds.org/profile/mfa",)
    assert cfg.identity.host_tokens.ttl_s == 600


def test_the_settings_the_verifier_gets() -> None:
    cfg = parse_config(_saml(group_to_roles={"staff": ["reader"]}), base=BASE)
    assert cfg.identity.saml is not None
    settings = saml_settings(cfg.identity.saml)
    assert settings.idp_metadata == BASE / "idp-metadata.xml"
    assert (settings.tenant_id, settings.allowed_tenants) == ("acme", frozenset())
    assert dict(settings.group_to_roles) == {"staff": ("reader",)}
    # Unset lists are the verifier's own defaults (SHA-2 only), never empty.
    assert settings.signature_algorithms == saml.DEFAULT_SIGNATURE_ALGORITHMS
    assert settings.digest_algorithms == saml.DEFAULT_DIGEST_ALGORITHMS
    assert settings.mfa_authn_contexts == saml.DEFAULT_MFA_AUTHN_CONTEXTS
    assert settings.allow_idp_initiated is True  # the gateway never sent an AuthnRequest
    assert settings.xmlsec_binary is None
    chosen = parse_config(_saml(digest_algorithms=["urn:d"], xmlsec_binary="bin/x"), base=BASE)
    assert chosen.identity.saml is not None
    mapped = saml_settings(chosen.identity.saml)
    assert mapped.digest_algorithms == frozenset({"urn:d"})
    assert mapped.xmlsec_binary == str(BASE / "bin/x")


def test_the_section_covers_every_setting_of_the_verifier() -> None:
    """A field added to SamlSettings must be added here too (or deliberately left out)."""
    config_fields = {f.name for f in dataclasses.fields(SamlConfig)}
    settings_fields = {f.name for f in dataclasses.fields(saml.SamlSettings)}
    assert config_fields <= settings_fields
    assert settings_fields - config_fields == {"allow_idp_initiated"}


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"sp_entity_id": ""}, "identity.saml.sp_entity_id"),
        ({"acs_url": ""}, "identity.saml.acs_url"),
        ({"tenant_id": None}, "identity.saml.tenant_id"),  # neither tenant rule
        ({"tenant_attribute": "tenant", "allowed_tenants": ["a"]}, "identity.saml.tenant_id"),
        ({"tenant_id": ""}, "identity.saml.tenant_id"),
        ({"tenant_id": None, "tenant_attribute": "t"}, "identity.saml.allowed_tenants"),
        ({"allowed_tenants": ["acme"]}, "identity.saml.allowed_tenants"),
        (
            {"tenant_id": None, "tenant_attribute": "t", "allowed_tenants": [""]},
            "identity.saml.allowed_tenants",
        ),
        ({"clock_skew_s": 601}, "identity.saml.clock_skew_s"),
        ({"clock_skew_s": 1.5}, "identity.saml.clock_skew_s"),
        ({"signature_algorithms": []}, "identity.saml.signature_algorithms"),
        ({"digest_algorithms": []}, "identity.saml.digest_algorithms"),
        ({"mfa_authn_contexts": []}, "identity.saml.mfa_authn_contexts"),
        ({"max_response_bytes": 100}, "identity.saml.max_response_bytes"),
        ({"idp_metadata": ""}, "identity.saml.idp_metadata"),
        ({"idp_metadata": 5}, "identity.saml.idp_metadata"),
        ({"allowed_tenants": "acme"}, "identity.saml.allowed_tenants"),
        ({"allow_idp_initiated": False}, "identity.saml.allow_idp_initiated"),
        ({"audience": "urn:x"}, "identity.saml.audience"),
    ],
)
def test_invalid_saml_settings_name_their_key(overrides: dict[str, Any], key: str) -> None:
    _refused(_saml(**overrides), key)


@pytest.mark.parametrize("missing", ["idp_metadata", "sp_entity_id", "acs_url"])
def test_required_saml_settings_are_required(missing: str) -> None:
    raw = _saml()
    del raw["identity"]["saml"][missing]
    with pytest.raises(ConfigurationError, match=f"'identity.saml.{missing}' is required"):
        parse_config(raw, base=BASE)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"ttl_s": 0}, "identity.host_tokens.ttl_s"),
        ({"ttl_s": -5}, "identity.host_tokens.ttl_s"),
        ({"ttl_s": MAX_TTL_S + 1}, "identity.host_tokens.ttl_s"),
        ({"ttl_s": "900"}, "identity.host_tokens.ttl_s"),
        ({"ttl_s": True}, "identity.host_tokens.ttl_s"),
        ({"key_file": 7}, "identity.host_tokens.key_file"),
    ],
)
def test_invalid_host_token_settings_name_their_key(section: dict[str, Any], key: str) -> None:
    _refused({"identity": {"host_tokens": section}}, key)


def test_the_longest_ttl_is_accepted() -> None:
    cfg = parse_config({"identity": {"host_tokens": {"ttl_s": MAX_TTL_S}}}, base=BASE)
    assert cfg.identity.host_tokens.ttl_s == MAX_TTL_S
