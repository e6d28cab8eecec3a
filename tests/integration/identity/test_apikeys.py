"""Service-account API keys: shown once, stored hashed, expiring, revocable (items 151, 152)."""

from __future__ import annotations

import hmac
import re
import secrets

import pytest

from aesp.core.errors import AuthenticationError
from aesp.identity import apikeys
from aesp.identity.apikeys import (
    ApiKeyRecord,
    IssuedKey,
    authenticate_api_key,
    check_record,
    generate_api_key,
    hash_api_key_secret,
    parse_api_key,
    verify_api_key,
)

PEPPER = secrets.token_bytes(32)
NOW_MS = 1_800_000_000_000


def _record(issued: IssuedKey, **changes: int) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=issued.key_id,
        service_account_id="sa-build-bot",
        tenant_id="acme",
        stored_hash=issued.stored_hash,
        created_at_ms=NOW_MS - 1000,
        **changes,
    )


def test_key_is_shown_once_and_stored_hashed() -> None:
    issued = generate_api_key(pepper=PEPPER)
    key_id, secret = parse_api_key(issued.secret_to_show_once)

    assert issued.secret_to_show_once == f"aesp_{key_id}_{secret}"
    assert key_id == issued.key_id
    assert len(secret) == 52 and len(secret) * 5 >= 256  # base32: ≥ 256 bits
    assert re.fullmatch(r"hmac-sha256:[0-9a-f]{64}", issued.stored_hash)
    assert secret not in issued.stored_hash
    assert issued.stored_hash == hash_api_key_secret(key_id, secret, pepper=PEPPER)
    # Nothing that might print the IssuedKey shows the secret.
    assert secret not in repr(issued)
    assert secret not in str(issued)


def test_keys_are_unique_and_random() -> None:
    issued = [generate_api_key(pepper=PEPPER) for _ in range(200)]
    assert len({k.key_id for k in issued}) == 200
    assert len({k.secret_to_show_once for k in issued}) == 200
    assert len({k.stored_hash for k in issued}) == 200


def test_stored_hash_depends_on_the_pepper() -> None:
    issued = generate_api_key(pepper=PEPPER)
    other_pepper = secrets.token_bytes(32)
    assert verify_api_key(issued.secret_to_show_once, issued.stored_hash, pepper=PEPPER)
    assert not verify_api_key(issued.secret_to_show_once, issued.stored_hash, pepper=other_pepper)


def test_custom_prefix() -> None:
    issued = generate_api_key("ci2", pepper=PEPPER)
    assert issued.secret_to_show_once.startswith("ci2_")
    assert verify_api_key(
        issued.secret_to_show_once, issued.stored_hash, pepper=PEPPER, prefix="ci2"
    )
    assert not verify_api_key(issued.secret_to_show_once, issued.stored_hash, pepper=PEPPER)


@pytest.mark.parametrize("prefix", ["", "AESP", "ae_sp", "1aesp", "a" * 17, "aes-p"])
def test_bad_prefix_is_a_programming_error(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        generate_api_key(prefix, pepper=PEPPER)


@pytest.mark.parametrize("pepper", [b"", b"short", bytes(31)])
def test_short_pepper_is_refused(pepper: bytes) -> None:
    with pytest.raises(ValueError, match="pepper"):
        generate_api_key(pepper=pepper)


def test_verify_ok_and_wrong_secret() -> None:
    issued = generate_api_key(pepper=PEPPER)
    assert verify_api_key(issued.secret_to_show_once, issued.stored_hash, pepper=PEPPER)

    key_id, secret = parse_api_key(issued.secret_to_show_once)
    wrong = secret[:-1] + ("a" if secret[-1] != "a" else "b")
    assert not verify_api_key(f"aesp_{key_id}_{wrong}", issued.stored_hash, pepper=PEPPER)
    other = generate_api_key(pepper=PEPPER)
    assert not verify_api_key(other.secret_to_show_once, issued.stored_hash, pepper=PEPPER)
    # Another key's secret under this key's id does not match either (the id is hashed too).
    _, other_secret = parse_api_key(other.secret_to_show_once)
    assert not verify_api_key(f"aesp_{key_id}_{other_secret}", issued.stored_hash, pepper=PEPPER)
    assert not verify_api_key(issued.secret_to_show_once, "", pepper=PEPPER)
    assert not verify_api_key(issued.secret_to_show_once, "hmac-sha256:é", pepper=PEPPER)


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(apikeys.hmac, "compare_digest", spy)
    issued = generate_api_key(pepper=PEPPER)
    assert verify_api_key(issued.secret_to_show_once, issued.stored_hash, pepper=PEPPER)
    assert calls == [(issued.stored_hash.encode(), issued.stored_hash.encode())]


_ID = "0123456789abcdef01234567"
_SECRET = "a" * 52

MALFORMED = [
    ("empty", "", r"No API key was presented"),
    ("no-prefix", f"{_ID}_{_SECRET}", r"does not start with 'aesp_'"),
    ("other-prefix", f"ghp_{_ID}_{_SECRET}", r"does not start with 'aesp_'"),
    ("upper-case-prefix", f"AESP_{_ID}_{_SECRET}", r"does not start with 'aesp_'"),
    ("missing-secret", f"aesp_{_ID}", r"malformed; expected aesp_<key id>_<secret>"),
    ("extra-part", f"aesp_{_ID}_{_SECRET}_x", r"malformed; expected aesp_<key id>_<secret>"),
    ("empty-parts", "aesp__", r"key id is malformed"),
    ("short-key-id", f"aesp_{_ID[:-1]}_{_SECRET}", r"key id is malformed"),
    ("upper-case-key-id", f"aesp_{_ID.upper()}_{_SECRET}", r"key id is malformed"),
    ("short-secret", f"aesp_{_ID}_{_SECRET[:-1]}", r"secret is malformed"),
    ("long-secret", f"aesp_{_ID}_{_SECRET}a", r"secret is malformed"),
    ("secret-bad-alphabet", f"aesp_{_ID}_{'1' * 52}", r"secret is malformed"),
    ("secret-upper-case", f"aesp_{_ID}_{'A' * 52}", r"secret is malformed"),
    ("trailing-newline", f"aesp_{_ID}_{_SECRET}\n", r"secret is malformed"),
    ("leading-space", f" aesp_{_ID}_{_SECRET}", r"does not start with 'aesp_'"),
    ("too-long", "aesp_" + "a" * 500, r"too long"),
    ("non-ascii", f"aesp_{_ID}_{'ä' * 52}", r"secret is malformed"),
]


@pytest.mark.parametrize(("text", "pattern"), [pytest.param(t, p, id=i) for i, t, p in MALFORMED])
def test_malformed_keys_are_refused(text: str, pattern: str) -> None:
    with pytest.raises(AuthenticationError, match=pattern) as caught:
        parse_api_key(text)
    assert caught.value.code == "INVALID_CREDENTIALS"
    assert _SECRET not in caught.value.message
    assert _ID not in caught.value.message
    assert not verify_api_key(text, "hmac-sha256:" + "0" * 64, pepper=PEPPER)


def test_check_record_expiry_and_revocation() -> None:
    issued = generate_api_key(pepper=PEPPER)
    check_record(_record(issued), NOW_MS)  # never expires, not revoked
    check_record(_record(issued, expires_at_ms=NOW_MS + 1), NOW_MS)
    check_record(_record(issued, revoked_at_ms=NOW_MS + 60_000), NOW_MS)  # scheduled

    with pytest.raises(AuthenticationError, match=r"has expired") as expired:
        check_record(_record(issued, expires_at_ms=NOW_MS), NOW_MS)
    assert expired.value.code == "INVALID_CREDENTIALS"
    with pytest.raises(AuthenticationError, match=r"has been revoked") as revoked:
        check_record(_record(issued, revoked_at_ms=NOW_MS - 1), NOW_MS)
    assert revoked.value.code == "INVALID_CREDENTIALS"
    assert expired.value.message != revoked.value.message
    # Revoked and expired: revocation is the reason given.
    with pytest.raises(AuthenticationError, match=r"has been revoked"):
        check_record(_record(issued, revoked_at_ms=1, expires_at_ms=2), NOW_MS)


def test_authenticate_api_key_end_to_end() -> None:
    issued = generate_api_key(pepper=PEPPER)
    record = _record(issued, expires_at_ms=NOW_MS + 3_600_000)

    identity = authenticate_api_key(
        issued.secret_to_show_once, record, pepper=PEPPER, now_ms=NOW_MS
    )
    assert identity.principal_id == "api_key|aesp|sa-build-bot"
    assert identity.tenant_id == "acme"
    assert identity.source == "api_key"
    assert identity.subject == "sa-build-bot"
    assert identity.claims == {"key_id": issued.key_id}
    assert identity.expires_at_ms == NOW_MS + 3_600_000

    key_id, secret = parse_api_key(issued.secret_to_show_once)
    wrong = f"aesp_{key_id}_{'b' * 52 if secret != 'b' * 52 else 'c' * 52}"
    with pytest.raises(AuthenticationError, match=r"API key is not valid"):
        authenticate_api_key(wrong, record, pepper=PEPPER, now_ms=NOW_MS)
    other = generate_api_key(pepper=PEPPER)
    with pytest.raises(AuthenticationError, match=r"does not belong to the record"):
        authenticate_api_key(other.secret_to_show_once, record, pepper=PEPPER, now_ms=NOW_MS)
    with pytest.raises(AuthenticationError, match=r"has expired"):
        authenticate_api_key(
            issued.secret_to_show_once, record, pepper=PEPPER, now_ms=NOW_MS + 3_600_000
        )
    revoked = _record(issued, revoked_at_ms=NOW_MS)
    with pytest.raises(AuthenticationError, match=r"has been revoked"):
        authenticate_api_key(issued.secret_to_show_once, revoked, pepper=PEPPER, now_ms=NOW_MS)
