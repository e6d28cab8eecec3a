"""The Host's session-token signing key: an Ed25519 key file, never overwritten.

Why a file: the gateway signs the session tokens it issues for SAML and LDAP logins
(:mod:`aesp.identity.host_tokens`) and must verify them after a restart, so the key outlives the
process. By default it lives next to the Host's data (``<data_dir>/host_tokens.key``, mode
0600, written atomically like the API-key pepper, :mod:`.pepper`) and is created whenever it is
missing: losing it costs little, since tokens live minutes and callers simply log in again.
Replicas behind one load balancer must verify each other's tokens, so they read one configured
``[identity.host_tokens] key_file`` instead, which is never created: a replica that invented its
own key would refuse every token the others issued.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from aesp.core.config import HostConfig
from aesp.core.errors import ConfigurationError
from aesp.server.gateway.pepper import create_secret_file

__all__ = ["KEY_FILE_NAME", "load_or_create_token_key", "token_key_for"]

KEY_FILE_NAME: Final = "host_tokens.key"


def _unusable(path: Path, why: str) -> ConfigurationError:
    return ConfigurationError(
        "CONFIGURATION_ERROR",
        f"The Host session-token key file {path} {why}.",
        remediation_steps=(
            "Fix the file's permissions (`chmod 600`), or",
            "delete it to let the Host create a new key (session tokens already issued stop "
            "working; their holders log in again).",
        ),
    )


def load_or_create_token_key(path: Path, *, create: bool = True) -> ed25519.Ed25519PrivateKey:
    """Read the Host's token-signing key, creating it first when the file is missing.

    Args:
        path: The key file (``<data_dir>/host_tokens.key``, or the configured ``key_file``).
        create: Create the key when the file is missing; False for a configured key, which
            replicas share, so a replica must never invent its own.

    Returns:
        The Ed25519 private key.

    Raises:
        ConfigurationError: ``CONFIGURATION_ERROR`` when the file is readable by group or
            others, unreadable, or not an unencrypted Ed25519 PKCS#8 PEM key.
    """
    if not path.exists() and not create:
        raise ConfigurationError(
            "CONFIGURATION_ERROR",
            f"The Host session-token key file {path} ([identity.host_tokens] key_file) does "
            "not exist.",
            remediation_steps=(
                f"Create it once (`openssl genpkey -algorithm ed25519 -out {path}` and "
                f"`chmod 600 {path}`) and give every replica the same file, or",
                "leave key_file out to let a single Host keep its own key under data_dir.",
            ),
        )
    if not path.exists():
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        create_secret_file(path, pem)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise _unusable(path, f"cannot be read ({exc.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise _unusable(path, "is accessible to other users; run `chmod 600` on it")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise _unusable(path, "does not hold an unencrypted PEM private key") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise _unusable(path, "holds a key that is not Ed25519")
    return key


def token_key_for(config: HostConfig) -> ed25519.Ed25519PrivateKey:
    """The session-token key of the Host ``config`` describes: the configured ``key_file``
    (shared by replicas, never created), else ``<data_dir>/host_tokens.key``."""
    configured = config.identity.host_tokens.key_file
    if configured is not None:
        return load_or_create_token_key(Path(configured), create=False)
    return load_or_create_token_key(Path(config.data_dir) / KEY_FILE_NAME)
