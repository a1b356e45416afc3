"""Secrets at rest.

* Credentials a client presents (app secrets, access keys, tokens) are stored as a keyed hash
  (HMAC-SHA256 with the installation key), compared in constant time, and never logged.
* Secrets voxgate must use itself (callback signing secrets, extension SIP passwords) are
  encrypted with Fernet under a key derived from the installation key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from voxgate.errors import ConfigurationError


class SecretBox:
    """Hashes presented credentials and encrypts stored ones under one installation key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ConfigurationError("VOXGATE_SECRET_KEY must be at least 16 characters")
        self._hash_key = hmac.new(key, b"voxgate-credential-hash", hashlib.sha256).digest()
        fernet_key = hmac.new(key, b"voxgate-fernet", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(fernet_key))

    def hash(self, presented: str) -> str:
        return hmac.new(self._hash_key, presented.encode(), hashlib.sha256).hexdigest()

    def verify(self, presented: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(presented), stored_hash)

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise ConfigurationError(
                "a stored secret cannot be decrypted: VOXGATE_SECRET_KEY changed?"
            ) from None

    def __repr__(self) -> str:
        return "<SecretBox key=**********>"


def new_secret(nbytes: int = 24) -> str:
    return secrets.token_hex(nbytes)


def load_or_create_key(explicit: str | None, data_dir: Path) -> bytes:
    """The installation key: from settings, else a file in the data directory (made once)."""
    if explicit:
        return explicit.encode()
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    try:
        os.write(fd, key)
    finally:
        os.close(fd)
    return key
