"""SamlVerifier against an in-process pysaml2 IdP signing with xmlsec1 (SPEC 148, 150; DESIGN §9).

The IdP (``saml2.server.Server`` with an RSA-2048 key) issues real signed responses; each negative
test changes exactly one thing: no signature, bytes changed after signing, a stranger's key, an
old or future validity window, another audience, a second use, a weak algorithm. Every refusal
must be ``INVALID_CREDENTIALS`` with the sentence naming that check.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from xml.etree import ElementTree

import pytest
from aesp_local.state import MemoryStateStore
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_TRANSIENT
from saml2.xmldsig import DIGEST_SHA1, SIG_RSA_SHA1

from aesp.core.errors import AuthenticationError, ConfigurationError, ExecutionError
from aesp.identity.saml import (
    MSG_AUDIENCE,
    MSG_BAD_SIGNATURE,
    MSG_EXPIRED,
    MSG_IN_RESPONSE_TO,
    MSG_ISSUER,
    MSG_MALFORMED,
    MSG_REJECTED,
    MSG_REPLAY,
    MSG_TENANT,
    MSG_UNSIGNED,
    MSG_WEAK_ALGORITHM,
    InMemoryReplayCache,
    ReplayCacheFullError,
    SamlSettings,
    SamlVerifier,
)
from aesp.server.gateway.replay import StateReplayCache

if TYPE_CHECKING:
    from saml2.client import Saml2Client

    from tests.integration.identity.conftest_ldap_saml import SamlIdp

pytest_plugins = ["tests.integration.identity.conftest_ldap_saml"]

# Kept in step with conftest_ldap_saml (importing it here would defeat pytest's assertion
# rewriting of the plugin module).
IDP_ENTITY_ID = "https://idp.example.test/saml"
SP_ENTITY_ID = "https://aesp.example.test/saml/sp"
ACS_URL = "https://aesp.example.test/saml/acs"
MFA_CONTEXT = "https://refeds.org/profile/mfa"
TENANT = "acme"
HOUR = 3600.0


def _settings(idp: SamlIdp, **overrides: Any) -> SamlSettings:
    base: dict[str, Any] = {
        "idp_metadata": idp.metadata,
        "sp_entity_id": SP_ENTITY_ID,
        "acs_url": ACS_URL,
        "tenant_id": TENANT,
        "group_to_roles": {"Approvers": "approver", "staff": ["reader", "viewer"]},
        "clock_skew_s": 30,
    }
    base.update(overrides)
    return SamlSettings(**base)


@pytest.fixture(scope="module")
def verifier(saml_idp: SamlIdp) -> SamlVerifier:
    """The verifier most tests share (fresh assertions every time, so replays never collide)."""
    return SamlVerifier(_settings(saml_idp))


def _refusal(call: Callable[[], object]) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as info:
        call()
    return info.value


def _assert_refused(verifier: SamlVerifier, response: str, sentence: str, **kw: Any) -> None:
    error = _refusal(lambda: verifier.verify(response, request_id=kw.get("request_id")))
    assert (error.code, error.message) == ("INVALID_CREDENTIALS", sentence)


def _xml(response_b64: str) -> str:
    return base64.b64decode(response_b64).decode("utf-8")


def _b64(xml: str) -> str:
    return base64.b64encode(xml.encode("utf-8")).decode("ascii")


def _edit(response_b64: str, old: str, new: str) -> str:
    xml = _xml(response_b64)
    assert old in xml, f"{old!r} not in the response"
    return _b64(xml.replace(old, new, 1))


# --------------------------------------------------------------------------- accepted


def test_signed_assertion_gives_the_identity(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    before_ms = time.time() * 1000
    identity = verifier.verify(saml_idp.issue(user="alice"), request_id=None)

    assert identity.principal_id == f"saml|{IDP_ENTITY_ID}|alice"
    assert identity.tenant_id == TENANT
    assert identity.source == "saml"
    assert identity.issuer == IDP_ENTITY_ID
    assert identity.subject == "alice"
    assert identity.display_name == "Alice Example"
    assert identity.groups == ("approvers", "staff")
    assert identity.claims["roles"] == "approver,reader,viewer"
    assert identity.claims["groups"] == "approvers,staff"
    assert identity.claims["authn_context"].endswith(":PasswordProtectedTransport")
    assert identity.mfa is False
    # The IdP grants 5 minutes.
    assert before_ms + 4 * 60_000 < identity.expires_at_ms <= before_ms + 6 * 60_000


def test_signed_response_with_unsigned_assertion_is_accepted(
    verifier: SamlVerifier, saml_idp: SamlIdp
) -> None:
    response = saml_idp.issue(user="bob", sign_response=True, sign_assertion=False)
    assert verifier.verify(response, request_id=None).subject == "bob"


def test_response_and_assertion_both_signed_is_accepted(
    verifier: SamlVerifier, saml_idp: SamlIdp
) -> None:
    response = saml_idp.issue(sign_response=True, sign_assertion=True)
    assert verifier.verify(response, request_id=None).subject == "alice"


def test_sp_initiated_login_answers_a_real_authn_request(
    verifier: SamlVerifier, saml_idp: SamlIdp, saml_sp_client: Saml2Client
) -> None:
    # The request travels like a browser would carry it: SP redirect -> IdP parses it.
    request_id, info = saml_sp_client.prepare_for_authenticate(
        entityid=IDP_ENTITY_ID, binding=BINDING_HTTP_REDIRECT
    )
    location = dict(info["headers"])["Location"]
    saml_request = re.search(r"SAMLRequest=([^&]+)", location)
    assert saml_request is not None
    parsed = saml_idp.server.parse_authn_request(
        unquote(saml_request.group(1)), BINDING_HTTP_REDIRECT
    )
    assert parsed.message.id == request_id

    response = saml_idp.issue(in_response_to=request_id)
    assert verifier.verify(response, request_id=request_id).subject == "alice"


def test_mfa_authn_context_sets_mfa(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    identity = verifier.verify(saml_idp.issue(authn_context=MFA_CONTEXT), request_id=None)
    assert identity.mfa is True


# --------------------------------------------------------------------------- signatures


def test_unsigned_response_is_refused(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    response = saml_idp.issue(sign_response=False, sign_assertion=False)
    _assert_refused(verifier, response, MSG_UNSIGNED)


def test_stripped_signature_is_refused(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    xml = _xml(saml_idp.issue())
    stripped = re.sub(r"<ns\d+:Signature\b.*?</ns\d+:Signature>", "", xml, flags=re.DOTALL)
    assert stripped != xml and "Signature" not in stripped
    _assert_refused(verifier, _b64(stripped), MSG_UNSIGNED)


@pytest.mark.parametrize(
    ("signed", "old", "new"),
    [
        pytest.param("assertion", ">alice<", ">mallory<", id="nameid-signed-assertion"),
        pytest.param("assertion", ">approvers<", ">admins<", id="attribute-signed-assertion"),
        pytest.param("response", ">alice<", ">mallory<", id="nameid-signed-response"),
        pytest.param("response", ">staff<", ">admins<", id="attribute-signed-response"),
    ],
)
def test_tampered_after_signing_is_refused(
    verifier: SamlVerifier, saml_idp: SamlIdp, signed: str, old: str, new: str
) -> None:
    response = saml_idp.issue(
        sign_response=signed == "response", sign_assertion=signed == "assertion"
    )
    _assert_refused(verifier, _edit(response, old, new), MSG_BAD_SIGNATURE)


def test_tampered_validity_window_is_refused(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    response = saml_idp.issue()
    until = re.search(r'<ns\d+:Conditions [^>]*NotOnOrAfter="([^"]+)"', _xml(response))
    assert until is not None
    forged = _edit(
        response, f'NotOnOrAfter="{until.group(1)}"', 'NotOnOrAfter="2999-01-01T00:00:00Z"'
    )
    _assert_refused(verifier, forged, MSG_BAD_SIGNATURE)


def test_signature_by_another_key_is_refused(
    verifier: SamlVerifier, saml_attacker_idp: SamlIdp
) -> None:
    # Same entity id, a key of the attacker's own; the embedded certificate must not be trusted.
    _assert_refused(verifier, saml_attacker_idp.issue(), MSG_BAD_SIGNATURE)
    forged = saml_attacker_idp.issue(sign_response=True, sign_assertion=False)
    _assert_refused(verifier, forged, MSG_BAD_SIGNATURE)


def test_signature_wrapping_is_refused(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    # XSW: the genuine signed assertion is hidden in <samlp:Extensions>, and a forged copy with
    # the same ID and the copied signature takes its place.
    xml = _xml(saml_idp.issue())
    found = re.search(r"<ns1:Assertion\b.*</ns1:Assertion>", xml, flags=re.DOTALL)
    assert found is not None
    genuine = found.group(0)
    wrapped = xml.replace(genuine, genuine.replace(">alice<", ">mallory<"))
    status = wrapped.index("<ns0:Status>")
    wrapped = f"{wrapped[:status]}<ns0:Extensions>{genuine}</ns0:Extensions>{wrapped[status:]}"
    _assert_refused(verifier, _b64(wrapped), MSG_REJECTED)


def test_sha1_signature_is_refused(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    response = saml_idp.issue(sign_alg=SIG_RSA_SHA1, digest_alg=DIGEST_SHA1)
    _assert_refused(verifier, response, MSG_WEAK_ALGORITHM)


def test_other_issuer_is_refused(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    response = _xml(saml_idp.issue())
    forged = response.replace(f">{IDP_ENTITY_ID}<", ">https://evil.example.test/saml<")
    _assert_refused(verifier, _b64(forged), MSG_ISSUER)


# --------------------------------------------------------------------------- time, audience, replay


def test_expired_assertion_is_refused(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    # The IdP issued it two hours ago, valid for five minutes.
    _assert_refused(verifier, saml_idp.issue(shift_s=-2 * HOUR), MSG_EXPIRED)


def test_assertion_from_the_future_is_refused(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    _assert_refused(verifier, saml_idp.issue(shift_s=2 * HOUR), MSG_EXPIRED)


@pytest.mark.parametrize("offset_s", [2 * HOUR, -2 * HOUR], ids=["later", "earlier"])
def test_verifier_clock_outside_the_window_is_refused(saml_idp: SamlIdp, offset_s: float) -> None:
    shifted = SamlVerifier(_settings(saml_idp), clock=lambda: time.time() + offset_s)
    _assert_refused(shifted, saml_idp.issue(), MSG_EXPIRED)


def test_clock_skew_is_tolerated(saml_idp: SamlIdp) -> None:
    # 20 s past NotOnOrAfter by the verifier's clock, within the 30 s skew.
    slow = SamlVerifier(_settings(saml_idp), clock=lambda: time.time() + 5 * 60 + 20)
    assert slow.verify(saml_idp.issue(), request_id=None).subject == "alice"


def test_wrong_audience_is_refused(saml_idp: SamlIdp) -> None:
    other_sp = SamlVerifier(_settings(saml_idp, sp_entity_id="https://other.example.test/sp"))
    _assert_refused(other_sp, saml_idp.issue(), MSG_AUDIENCE)


def test_replayed_response_is_refused(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    response = saml_idp.issue()
    assert verifier.verify(response, request_id=None).subject == "alice"
    _assert_refused(verifier, response, MSG_REPLAY)


def test_replay_cache_is_shared_by_verifiers_given_the_same_cache(saml_idp: SamlIdp) -> None:
    shared = InMemoryReplayCache()
    first = SamlVerifier(_settings(saml_idp), replay_cache=shared)
    second = SamlVerifier(_settings(saml_idp), replay_cache=shared)
    response = saml_idp.issue()
    first.verify(response, request_id=None)
    _assert_refused(second, response, MSG_REPLAY)


def test_full_replay_cache_fails_closed(saml_idp: SamlIdp) -> None:
    small = SamlVerifier(_settings(saml_idp), replay_cache=InMemoryReplayCache(max_entries=1))
    small.verify(saml_idp.issue(), request_id=None)
    error = _refusal(lambda: small.verify(saml_idp.issue(), request_id=None))
    assert error.code == "AUTHENTICATION_FAILED"


async def test_replicas_claiming_on_one_state_store_refuse_a_replay(saml_idp: SamlIdp) -> None:
    # What the gateway builds: a replay cache on the State port that every replica shares.
    shared = MemoryStateStore()
    loop = asyncio.get_running_loop()
    replica_a = SamlVerifier(_settings(saml_idp), replay_cache=StateReplayCache(shared, loop))
    replica_b = SamlVerifier(_settings(saml_idp), replay_cache=StateReplayCache(shared, loop))
    response = saml_idp.issue()
    first = await asyncio.to_thread(replica_a.verify, response, request_id=None)
    assert first.subject == "alice"
    with pytest.raises(AuthenticationError) as replayed:
        await asyncio.to_thread(replica_b.verify, response, request_id=None)
    assert replayed.value.code == "INVALID_CREDENTIALS" and MSG_REPLAY in replayed.value.message
    # A store that cannot answer refuses the login (fail closed), whatever the assertion.
    await shared.close()

    async def down(key: str, *, until_ms: int, now_ms: int) -> bool:
        raise ExecutionError("SERVICE_UNAVAILABLE", "The state table cannot be reached.")

    shared.claim = down  # type: ignore[method-assign]
    with pytest.raises(AuthenticationError) as refused:
        await asyncio.to_thread(replica_a.verify, saml_idp.issue(), request_id=None)
    assert refused.value.code == "AUTHENTICATION_FAILED"


def test_replay_cache_forgets_ids_once_expired() -> None:
    cache = InMemoryReplayCache(max_entries=2)
    assert cache.remember("a", expires_at=100.0, now=0.0)
    assert not cache.remember("a", expires_at=100.0, now=99.0)
    assert cache.remember("b", expires_at=50.0, now=1.0)
    with pytest.raises(ReplayCacheFullError):
        cache.remember("c", expires_at=60.0, now=2.0)
    assert cache.remember("c", expires_at=160.0, now=50.0)  # "b" expired at 50
    assert cache.remember("a", expires_at=200.0, now=100.0)  # "a" expired at 100
    assert len(cache) == 2


# --------------------------------------------------------------------------- InResponseTo


def test_response_to_another_request_is_refused(verifier: SamlVerifier, saml_idp: SamlIdp) -> None:
    response = saml_idp.issue(in_response_to="id-request-A")
    _assert_refused(verifier, response, MSG_IN_RESPONSE_TO, request_id="id-request-B")


def test_unsolicited_response_is_refused_when_a_request_is_outstanding(
    verifier: SamlVerifier, saml_idp: SamlIdp
) -> None:
    _assert_refused(verifier, saml_idp.issue(), MSG_IN_RESPONSE_TO, request_id="id-request-A")


def test_idp_initiated_login_can_be_disabled(saml_idp: SamlIdp) -> None:
    strict = SamlVerifier(_settings(saml_idp, allow_idp_initiated=False))
    _assert_refused(strict, saml_idp.issue(), MSG_IN_RESPONSE_TO)
    answer = saml_idp.issue(in_response_to="id-request-C")
    assert strict.verify(answer, request_id="id-request-C").subject == "alice"


# --------------------------------------------------------------------------- tenant and subject


def test_tenant_from_an_attribute_on_the_allow_list(saml_idp: SamlIdp) -> None:
    by_attribute = SamlVerifier(
        _settings(
            saml_idp,
            tenant_id=None,
            tenant_attribute="tenant",
            allowed_tenants=frozenset({"acme", "globex"}),
        )
    )
    attributes = {"displayName": ["G"], "groups": [], "tenant": ["globex"]}
    identity = by_attribute.verify(saml_idp.issue(attributes=attributes), request_id=None)
    assert identity.tenant_id == "globex"

    for tenants in (["initech"], [], ["acme", "globex"]):
        response = saml_idp.issue(attributes={"tenant": tenants} if tenants else {"mail": ["x"]})
        _assert_refused(by_attribute, response, MSG_TENANT)


def test_transient_name_id_is_refused_without_a_subject_attribute(
    verifier: SamlVerifier, saml_idp: SamlIdp
) -> None:
    response = saml_idp.issue(name_id_format=NAMEID_FORMAT_TRANSIENT)
    error = _refusal(lambda: verifier.verify(response, request_id=None))
    assert error.code == "AUTHENTICATION_FAILED"


def test_subject_attribute_replaces_a_transient_name_id(saml_idp: SamlIdp) -> None:
    by_uid = SamlVerifier(_settings(saml_idp, subject_attribute="uid"))
    response = saml_idp.issue(
        user="3f9a0c77e1",
        name_id_format=NAMEID_FORMAT_TRANSIENT,
        attributes={"uid": ["alice"], "groups": ["approvers"]},
    )
    identity = by_uid.verify(response, request_id=None)
    assert identity.principal_id == f"saml|{IDP_ENTITY_ID}|alice"


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64 at all!", id="not-base64"),
        pytest.param(_b64("<not-xml"), id="not-xml"),
        pytest.param(_b64("<foo xmlns='urn:x'/>"), id="not-a-response"),
        pytest.param(
            _b64('<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'),
            id="doctype",
        ),
        pytest.param("A" * (600 * 1024), id="too-large"),
    ],
)
def test_malformed_input_is_refused(verifier: SamlVerifier, payload: str) -> None:
    _assert_refused(verifier, payload, MSG_MALFORMED)


@dataclass(frozen=True)
class _Mutation:
    """One response with one element or attribute removed."""

    what: str
    path: tuple[int, ...]
    response_b64: str


def _mutations(response_b64: str) -> Iterator[_Mutation]:
    """Every variant of the response with one element or one attribute removed."""
    root = ElementTree.fromstring(_xml(response_b64))
    for path in _walk(root, ()):
        if path:  # not the root
            tree = ElementTree.fromstring(_xml(response_b64))
            parent = _at(tree, path[:-1])
            child = list(parent)[path[-1]]
            parent.remove(child)
            yield _Mutation(f"-{_local(child.tag)}", path, _serialize(tree))
        for name in _at(root, path).attrib:
            tree = ElementTree.fromstring(_xml(response_b64))
            del _at(tree, path).attrib[name]
            yield _Mutation(f"-{_local(_at(root, path).tag)}@{name}", path, _serialize(tree))


def _serialize(tree: ElementTree.Element) -> str:
    return _b64(ElementTree.tostring(tree, encoding="unicode"))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _walk(element: ElementTree.Element, path: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    yield path
    for index, child in enumerate(element):
        yield from _walk(child, (*path, index))


def _at(element: ElementTree.Element, path: tuple[int, ...]) -> ElementTree.Element:
    for index in path:
        element = list(element)[index]
    return element


class _ForgetfulCache:
    """A replay cache that remembers nothing, so mutations of one response stay independent."""

    def remember(self, key: str, expires_at: float, now: float) -> bool:
        return True


def test_any_piece_of_the_signed_assertion_removed_is_refused_cleanly(
    saml_idp: SamlIdp, caplog: pytest.LogCaptureFixture
) -> None:
    # Robustness: removing any element or attribute gives a refusal with a sentence, never a
    # crash. Inside the signed assertion everything counts except the Signature's own Id; the
    # unsigned envelope's optional parts (Destination, Issuer) may go.
    caplog.set_level(logging.CRITICAL, logger="saml2")  # pysaml2 logs whole documents
    response = saml_idp.issue()
    root = ElementTree.fromstring(_xml(response))
    signed = next(i for i, child in enumerate(root) if _local(child.tag) == "Assertion")
    verifier = SamlVerifier(_settings(saml_idp), replay_cache=_ForgetfulCache())
    accepted: list[str] = []
    refused_inside: set[str] = set()
    count = 0
    for mutation in _mutations(response):
        count += 1
        inside = mutation.path[:1] == (signed,)
        try:
            verifier.verify(mutation.response_b64, request_id=None)
        except AuthenticationError as error:
            assert error.code == "INVALID_CREDENTIALS", (mutation.what, error)
            if inside:
                refused_inside.add(mutation.what)
            continue
        accepted.append(f"{mutation.what} at {mutation.path}")
        assert not inside or mutation.what == "-Signature@Id", mutation
    assert count > 40
    assert {"-NameID", "-AttributeValue", "-Conditions@NotOnOrAfter", "-Audience"} <= (
        refused_inside
    )
    assert accepted, "the envelope's Destination is optional and should have been accepted"


# --------------------------------------------------------------------------- configuration


def test_metadata_file_is_accepted(saml_idp: SamlIdp, tmp_path: Path) -> None:
    path = tmp_path / "idp.xml"
    path.write_text(saml_idp.metadata)
    from_file = SamlVerifier(_settings(saml_idp, idp_metadata=path))
    assert from_file.idp_entity_id == IDP_ENTITY_ID
    assert from_file.verify(saml_idp.issue(), request_id=None).subject == "alice"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"tenant_id": None}, "tenant"),
        ({"tenant_attribute": "tenant"}, "tenant"),
        ({"tenant_id": None, "tenant_attribute": "tenant"}, "allowed_tenants"),
        ({"idp_metadata": "idp.xml"}, "XML text"),
        ({"idp_entity_id": "https://unknown.example.test"}, "not in the metadata"),
        ({"group_to_roles": {"staff": "a,b"}}, "without commas"),
        ({"xmlsec_binary": "/nonexistent/xmlsec1"}, "xmlsec1"),
    ],
)
def test_unusable_settings_stop_start_up(
    saml_idp: SamlIdp, overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        SamlVerifier(_settings(saml_idp, **overrides))
    assert info.value.code == "INVALID_CONFIG"
    assert fragment in info.value.message
