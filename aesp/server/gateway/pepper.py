"""The API-key pepper of the local profile: a secret file, created once, never overwritten.

Why a file under ``data_dir``: API keys are stored as HMACs keyed with this pepper
(:mod:`aesp.identity.apikeys`), so the key table alone lets nobody test a guessed key. The
local profile has no secret manager, so the pepper lives next to the Host's data with mode
0600. It must outlive restarts: a new pepper would invalidate every key already issued, which is
why a pepper file named in the configuration is never created, only read.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from aesp.core.config import HostConfig
from aesp.core.errors import ConfigurationError
from aesp.identity.apikeys import MIN_PEPPER_BYTES

__all__ = [
    "DEFAULT_PEPPER_NAME",
    "PEPPER_BYTES",
    "create_secret_file",
    "load_or_create_pepper",
    "pepper_for",
]

PEPPER_BYTES: Final = 32  # 256 bits, the secret part of the key's strength
DEFAULT_PEPPER_NAME: Final = "api_keys.pepper"


def _unusable(path: Path, why: str) -> ConfigurationError:
    return ConfigurationError(
        "CONFIGURATION_ERROR",
        f"The API-key pepper file {path} {why}.",
        remediation_steps=(
            "Restore the file from a backup (API keys issued with it stay valid), or",
            "remove identity.api_keys.pepper_file to let the local profile create one "
            "(every API key issued before must then be re-issued).",
        ),
    )


def create_secret_file(path: Path, data: bytes) -> None:
    """Write a new secret file atomically: a 0600 temporary file, hard-linked into place.

    ``link`` fails if another Host created the file first (its file is then used, ``data`` is
    discarded), and a reader never sees a file that is only partly written. Also used for the
    session-token key (:mod:`aesp.server.gateway.token_key`).

    Args:
        path: The file to create.
        data: Its content.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another Host won the race: use its file
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def load_or_create_pepper(path: Path, *, create: bool) -> bytes:
    """Read the pepper at ``path``, creating it first when allowed and absent.

    Args:
        path: The pepper file.
        create: Create a fresh pepper if the file does not exist (the local default file);
            False for a file the operator named.

    Returns:
        The pepper bytes.

    Raises:
        ConfigurationError: ``CONFIGURATION_ERROR`` when the file is missing (and may not be
            created), readable by group or others, unreadable, or shorter than 32 bytes.
    """
    if create and not path.exists():
        create_secret_file(path, secrets.token_bytes(PEPPER_BYTES))
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise _unusable(path, "does not exist") from None
    except OSError as exc:
        raise _unusable(path, f"cannot be read ({exc.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise _unusable(path, "is accessible to other users; run `chmod 600` on it")
    if len(data) < MIN_PEPPER_BYTES:
        raise _unusable(path, f"holds fewer than {MIN_PEPPER_BYTES} bytes")
    return data


def pepper_for(config: HostConfig) -> bytes:
    """The pepper the configuration names, or the local profile's file under ``data_dir``."""
    named = config.identity.api_keys.pepper_file
    if named is not None:
        return load_or_create_pepper(named, create=False)
    return load_or_create_pepper(Path(config.data_dir) / DEFAULT_PEPPER_NAME, create=True)
