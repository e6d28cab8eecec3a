"""Checkpoints signed by an ECDSA P-256 key (what a cloud key service holds), keys read as PEM
or DER, and ``aesp audit verify`` with such a key.

The signatures are made here with ``cryptography`` directly (ECDSA over SHA-256, DER), the same
shape a key service returns, never through the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _logfiles import event, records, write_log
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aesp.cli_audit import main
from aesp.core.audit_keys import (
    ECDSA_P256_SHA256,
    ED25519,
    Checkpoint,
    CheckpointError,
    FileCheckpointSigner,
    checkpoint_body,
    key_id,
    load_public_key,
    origin,
    parse_public_key,
    sign_checkpoint_with,
)
from aesp.core.audit_verify import canonical, verify_file


class EcdsaSigner:
    """A CheckpointSigner over a local P-256 key (the shape of a key service's signer)."""

    algorithm = ECDSA_P256_SHA256

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = key_id(self.key.public_key())

    def public_key_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_key_der(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    async def sign(self, message: bytes) -> bytes:
        return self.key.sign(message, ec.ECDSA(hashes.SHA256()))

    async def close(self) -> None:
        return None


async def resign(log_path: Path, signer: EcdsaSigner, out: Path) -> None:
    """Rewrite ``log_path`` with every checkpoint re-signed by ``signer``."""
    lines = []
    for record in records(log_path):
        if record["kind"] == "checkpoint":
            cp = Checkpoint.from_record(record)
            record = (
                await sign_checkpoint_with(signer, cp.tenant, cp.size, cp.root, cp.timestamp_ms)
            ).to_record()
        lines.append(canonical(record) + b"\n")
    out.write_bytes(b"".join(lines))


@pytest.fixture
async def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    await write_log(path, [event(n, ("acme", "beta")[n % 2]) for n in range(8)], every=2)
    return path


async def test_an_ecdsa_signed_log_verifies_with_the_der_or_pem_key(
    log_path: Path, tmp_path: Path
) -> None:
    signer = EcdsaSigner()
    signed = tmp_path / "ecdsa.jsonl"
    await resign(log_path, signer, signed)
    checkpoints = [r for r in records(signed) if r["kind"] == "checkpoint"]
    assert checkpoints and all(r["algorithm"] == ECDSA_P256_SHA256 for r in checkpoints)
    assert all(r["key_id"] == signer.key_id for r in checkpoints)
    der = parse_public_key(signer.public_key_der())
    pem = parse_public_key(signer.public_key_pem())
    for key in (der, pem):
        report = verify_file(signed, [key], require_covered=True)
        assert report.valid and report.checkpoints == len(checkpoints), report.bad
    # the Host's own Ed25519 key does not vouch for them
    local = load_public_key(log_path.parent / "audit_signing.pub")
    report = verify_file(signed, [local])
    assert not report.valid and "not a given public key" in str(report.bad)


async def test_a_wrong_ecdsa_signature_or_algorithm_is_refused(log_path: Path) -> None:
    signer = EcdsaSigner()
    cp = Checkpoint.from_record(next(r for r in records(log_path) if r["kind"] == "checkpoint"))
    good = await sign_checkpoint_with(signer, cp.tenant, cp.size, cp.root, cp.timestamp_ms)
    keys = {signer.key_id: signer.key.public_key()}
    good.verify(keys)
    body = checkpoint_body(origin(cp.tenant), cp.size, cp.root, cp.timestamp_ms)
    assert good.body() == body
    moved = Checkpoint(
        cp.tenant,
        cp.size,
        cp.root,
        cp.timestamp_ms + 1,
        good.key_id,
        good.signature,
        ECDSA_P256_SHA256,
    )
    with pytest.raises(CheckpointError, match="does not verify"):
        moved.verify(keys)
    relabelled = Checkpoint.from_record(good.to_record() | {"algorithm": ED25519})
    with pytest.raises(CheckpointError, match="ECDSA_P256_SHA256 key"):
        relabelled.verify(keys)
    with pytest.raises(CheckpointError, match="algorithm 'RSA'"):
        Checkpoint.from_record(good.to_record() | {"algorithm": "RSA"})


async def test_records_without_an_algorithm_are_ed25519(log_path: Path) -> None:
    record = next(r for r in records(log_path) if r["kind"] == "checkpoint")
    assert record["algorithm"] == ED25519  # new records name it
    del record["algorithm"]
    assert Checkpoint.from_record(record).algorithm == ED25519


async def test_the_file_signer_signs_what_the_log_verifies(tmp_path: Path) -> None:
    signer = FileCheckpointSigner.from_file(tmp_path / "k.key")
    cp = await sign_checkpoint_with(signer, "acme", 1, b"\x01" * 32, 5)
    pub = load_public_key(tmp_path / "k.pub")
    assert signer.public_key_pem() == (tmp_path / "k.pub").read_bytes()
    assert cp.algorithm == ED25519 and cp.key_id == key_id(pub) == signer.key_id
    cp.verify({cp.key_id: pub})
    assert signer.sign_now(b"x") == await signer.sign(b"x")  # Ed25519 is deterministic


def test_keys_that_are_not_checkpoint_keys_are_refused(tmp_path: Path) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    der = p384.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="neither an Ed25519 nor an ECDSA P-256"):
        parse_public_key(der)
    with pytest.raises(ValueError, match="not a public key in PEM or DER"):
        parse_public_key(b"\x30\x03garbage")


async def test_cli_verify_accepts_a_der_key(
    log_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = EcdsaSigner()
    signed = tmp_path / "ecdsa.jsonl"
    await resign(log_path, signer, signed)
    der = tmp_path / "kms.der"
    der.write_bytes(signer.public_key_der())
    assert main(["verify", str(signed), "--public-key", str(der), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True
    other = tmp_path / "other.der"
    other.write_bytes(EcdsaSigner().public_key_der())
    assert main(["verify", str(signed), "--public-key", str(other)]) == 1
    assert "INVALID" in capsys.readouterr().out
