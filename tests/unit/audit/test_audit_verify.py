"""Offline verification (``aesp audit verify``, item 189): a good log passes; every kind of
damage is caught, and the report names the FIRST bad entry (line, tenant, index, event)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from _logfiles import event, leaf_hash_of, records, write_log
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aesp.adm import canonical_json
from aesp.core.audit_keys import Checkpoint, CheckpointError, load_public_key, sign_checkpoint
from aesp.core.audit_verify import VerifyReport, verify_file

# acme gets 10 leaves (checkpoints at 4, 8 and 10 at close), beta 3, the system tree 2.
TENANTS = ["acme", "acme", "beta", "acme", "", "acme", "beta", "acme", "acme", "", "acme"]
TENANTS += ["acme", "beta", "acme", "acme"]


@pytest.fixture
async def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    await write_log(path, [event(n, t) for n, t in enumerate(TENANTS)], every=4)
    return path


def verify(path: Path, **kwargs: Any) -> VerifyReport:
    return verify_file(path, [load_public_key(path.parent / "audit_signing.pub")], **kwargs)


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def line_of(path: Path, **want: object) -> int:
    """1-based number of the first line whose record (or its event) has these values."""
    for number, record in enumerate(records(path), 1):
        flat = {**record, **record.get("event", {})}
        if all(flat.get(k) == v for k, v in want.items()):
            return number
    raise AssertionError(f"no line with {want}")


def encode(record: dict[str, Any]) -> bytes:
    return canonical_json(record) + b"\n"


def put(path: Path, number: int, record: dict[str, Any]) -> None:
    lines = lines_of(path)
    lines[number - 1] = encode(record)
    path.write_bytes(b"".join(lines))


def test_a_good_log_verifies(log_path: Path) -> None:
    report = verify(log_path, require_covered=True)
    assert report.valid and report.bad is None
    assert (report.leaves, report.checkpoints, report.lines) == (15, 5, 20)
    summary = {t.tenant: (t.origin, t.leaves, t.checkpointed) for t in report.tenants}
    assert summary == {
        "": ("aesp-audit/system", 2, 2),
        "acme": ("aesp-audit/tenant/acme", 10, 10),
        "beta": ("aesp-audit/tenant/beta", 3, 3),
    }


def test_an_altered_event_is_named(log_path: Path) -> None:
    number = line_of(log_path, event_id="evt-0005")
    record = records(log_path)[number - 1]
    record["event"]["outcome"] = "DENIED"
    put(log_path, number, record)
    bad = verify(log_path).bad
    assert bad is not None and (bad.line, bad.tenant, bad.index, bad.event_id) == (
        number, "acme", 3, "evt-0005",
    )  # fmt: skip
    assert "is not the event's" in bad.problem


def test_an_altered_event_with_every_hash_recomputed_fails_at_the_next_checkpoint(
    log_path: Path,
) -> None:
    # The attacker rewrites evt-0005 and re-chains every later acme leaf; only the signed
    # checkpoint, which they cannot re-sign, still knows the old tree.
    out, previous = [], None
    for record in records(log_path):
        if record["kind"] == "leaf" and record["tenant"] == "acme":
            e = record["event"]
            if e["event_id"] == "evt-0005":
                e["outcome"] = "DENIED"
            if previous is not None:
                e["prev_hash"] = previous
            e["hash"] = previous = leaf_hash_of(e)
        out.append(encode(record))
    log_path.write_bytes(b"".join(out))
    bad = verify(log_path).bad
    assert bad is not None and bad.line == line_of(log_path, kind="checkpoint", size=4)
    assert "checkpoint root is not that of the leaves: one of 0..3 was altered" in bad.problem


def test_two_swapped_entries_are_named(log_path: Path) -> None:
    first = line_of(log_path, event_id="evt-0000")
    lines = lines_of(log_path)
    lines[first - 1], lines[first] = lines[first], lines[first - 1]  # evt-0000 <-> evt-0001
    log_path.write_bytes(b"".join(lines))
    bad = verify(log_path).bad
    assert bad is not None and (bad.line, bad.index, bad.event_id) == (first, 1, "evt-0001")
    assert "index 1, expected 0" in bad.problem


def test_a_dropped_entry_is_named(log_path: Path) -> None:
    lines = lines_of(log_path)
    del lines[line_of(log_path, event_id="evt-0003") - 1]
    log_path.write_bytes(b"".join(lines))
    bad = verify(log_path).bad
    next_acme = line_of(log_path, event_id="evt-0005")
    assert bad is not None and (bad.line, bad.tenant, bad.event_id) == (
        next_acme,
        "acme",
        "evt-0005",
    )
    assert "index 3, expected 2" in bad.problem


def test_a_file_cut_mid_line_is_named(log_path: Path) -> None:
    number = line_of(log_path, event_id="evt-0007")
    lines = lines_of(log_path)
    log_path.write_bytes(b"".join(lines[: number - 1]) + lines[number - 1][:50])
    bad = verify(log_path).bad
    assert bad is not None and bad.line == number and "incomplete" in bad.problem


def test_a_file_cut_at_a_line_boundary_before_the_last_checkpoint(log_path: Path) -> None:
    last = line_of(log_path, kind="checkpoint", tenant="acme", size=10)
    trusted = Checkpoint.from_record(records(log_path)[last - 1])
    cut_at = line_of(log_path, event_id="evt-0014")  # keep up to evt-0013 (acme leaf 8)
    log_path.write_bytes(b"".join(lines_of(log_path)[: cut_at - 1]))
    # A prefix of a log is a valid older log; what is missing shows in three ways:
    report = verify(log_path)
    assert report.valid
    acme = next(t for t in report.tenants if t.tenant == "acme")
    assert (acme.leaves, acme.checkpointed) == (9, 8)  # 1. the tail is reported uncovered
    bad = verify(log_path, require_covered=True).bad  # 2. an export of a stopped Host
    first_tail = line_of(log_path, event_id="evt-0002")  # beta's leaves were never signed
    assert bad is not None and (bad.line, bad.tenant, bad.index, bad.event_id) == (
        first_tail, "beta", 0, "evt-0002",
    )  # fmt: skip
    assert "not covered by any checkpoint" in bad.problem
    bad = verify(log_path, trusted=[trusted]).bad  # 3. a checkpoint the auditor kept
    assert bad is not None and (bad.line, bad.tenant, bad.index) == (cut_at, "acme", 9)
    assert "trusted checkpoint covers 10: the file was truncated" in bad.problem


def test_a_forged_checkpoint_signature_is_named(log_path: Path) -> None:
    number = line_of(log_path, kind="checkpoint", size=8)
    record = records(log_path)[number - 1]
    signature = bytearray(base64.b64decode(record["signature"]))
    signature[0] ^= 1
    record["signature"] = base64.b64encode(bytes(signature)).decode()
    put(log_path, number, record)
    bad = verify(log_path).bad
    assert bad is not None and (bad.line, bad.tenant) == (number, "acme")
    assert "signature does not verify" in bad.problem


@pytest.mark.parametrize("claims_our_key", [False, True])
def test_a_checkpoint_signed_by_another_key_is_named(log_path: Path, claims_our_key: bool) -> None:
    number = line_of(log_path, kind="checkpoint", size=4)
    genuine = Checkpoint.from_record(records(log_path)[number - 1])
    other = sign_checkpoint(
        Ed25519PrivateKey.generate(), "acme", 4, genuine.root, genuine.timestamp_ms
    )
    record = other.to_record()
    if claims_our_key:
        record["key_id"] = genuine.key_id
    put(log_path, number, record)
    bad = verify(log_path).bad
    assert bad is not None and bad.line == number
    expected = "does not verify" if claims_our_key else "which is not a given public key"
    assert expected in bad.problem


def test_a_rotated_key_verifies_when_both_public_keys_are_given(log_path: Path) -> None:
    old_key = load_public_key(log_path.parent / "audit_signing.pub")
    new = Ed25519PrivateKey.generate()
    number = line_of(log_path, kind="checkpoint", size=10)
    genuine = Checkpoint.from_record(records(log_path)[number - 1])
    put(log_path, number, sign_checkpoint(new, "acme", 10, genuine.root, 1).to_record())
    assert "time goes backwards" in str(verify_file(log_path, [old_key, new.public_key()]).bad)
    put(log_path, number, sign_checkpoint(new, "acme", 10, genuine.root, 2**42).to_record())
    assert verify_file(log_path, [old_key, new.public_key()]).valid
    assert not verify_file(log_path, [old_key]).valid


def test_a_checkpoint_moved_before_its_leaves_is_named(log_path: Path) -> None:
    number = line_of(log_path, kind="checkpoint", size=4)
    lines = lines_of(log_path)
    lines[number - 2], lines[number - 1] = lines[number - 1], lines[number - 2]
    log_path.write_bytes(b"".join(lines))
    bad = verify(log_path).bad
    assert bad is not None and bad.line == number - 1
    assert "not right after leaf 3" in bad.problem


@pytest.mark.parametrize(
    "mangle",
    [
        lambda line: line.replace(
            b'"outcome":"SUCCESS"', b'"outcome":"DENIED","outcome":"SUCCESS"'
        ),
        lambda line: line.replace(b'"index":', b'"index": '),
        lambda line: line.replace(b"c-2", b"\\u0063-2"),
    ],
    ids=["duplicate key", "whitespace", "escaped letter"],
)
def test_a_line_that_is_not_canonical_is_named(log_path: Path, mangle: Any) -> None:
    # Each still parses to the same event, but readers could disagree on it (a duplicate key
    # is read first-wins by some parsers), so only the exact canonical bytes are accepted.
    number = line_of(log_path, event_id="evt-0002")
    lines = lines_of(log_path)
    lines[number - 1] = mangle(lines[number - 1])
    log_path.write_bytes(b"".join(lines))
    bad = verify(log_path).bad
    assert bad is not None and (bad.line, bad.event_id) == (number, "evt-0002")
    assert "not the canonical JSON" in bad.problem


def test_interleaving_across_tenants_is_not_part_of_any_tree(log_path: Path) -> None:
    # Each tenant's tree is ordered; the order between tenants' lines carries no meaning.
    beta = line_of(log_path, event_id="evt-0002")
    lines = lines_of(log_path)
    lines[beta - 1], lines[beta] = lines[beta], lines[beta - 1]  # beta #0 <-> acme #2
    log_path.write_bytes(b"".join(lines))
    assert verify(log_path).valid


def test_a_trusted_checkpoint_with_a_bad_signature_is_refused_up_front(log_path: Path) -> None:
    record = records(log_path)[line_of(log_path, kind="checkpoint", size=4) - 1]
    record["size"] = 3
    with pytest.raises(CheckpointError, match="does not verify"):
        verify(log_path, trusted=[Checkpoint.from_record(record)])


def test_the_report_as_json(log_path: Path) -> None:
    lines = lines_of(log_path)
    log_path.write_bytes(b"".join(lines[:-1]) + b'{"kind":"mystery"}\n')
    report = json.loads(json.dumps(verify(log_path).to_json()))
    assert report["valid"] is False
    assert report["first_bad_entry"] == {
        "line": len(lines), "tenant": None, "index": None, "event_id": "",
        "problem": "unknown record kind 'mystery'",
    }  # fmt: skip
    assert {t["tenant"]: t["uncovered"] for t in report["tenants"]} == {"": 0, "acme": 2, "beta": 0}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"origin": "aesp-audit/tenant/beta"}, "does not name its tenant"),
        ({"root": "AB" * 32}, "64 lowercase hex digits"),
        ({"size": "4"}, "non-negative integers"),
        ({"signature": "not base64!"}, "malformed"),
        ({"key_id": None}, "must be strings"),
    ],
)
def test_a_malformed_checkpoint_is_named(
    log_path: Path, change: dict[str, object], problem: str
) -> None:
    number = line_of(log_path, kind="checkpoint", size=4)
    record = records(log_path)[number - 1] | change
    put(log_path, number, record)
    bad = verify(log_path).bad
    assert bad is not None and (bad.line, bad.tenant) == (number, "acme")
    assert problem in bad.problem


def test_a_checkpoint_without_a_signature_field_is_named(log_path: Path) -> None:
    number = line_of(log_path, kind="checkpoint", size=4)
    record = records(log_path)[number - 1]
    del record["signature"]
    put(log_path, number, record)
    bad = verify(log_path).bad
    assert bad is not None and "checkpoint has no 'signature' field" in bad.problem
