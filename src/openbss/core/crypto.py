"""Field-level encryption for sensitive identifiers (national id, passport numbers).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``)
under a key derived from ``OPENBSS_SECRET_KEY`` with HKDF, so rotating the secret
requires re-encrypting (see docs/operations.md, "Secrets").
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openbss.core.config import get_settings

PREFIX = "enc:v1:"


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"openbss-field-encryption",
               info=b"fernet").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str) -> str:
    token = _fernet(get_settings().secret_key).encrypt(value.encode()).decode()
    return PREFIX + token


def decrypt(value: str) -> str:
    if not value.startswith(PREFIX):
        return value
    try:
        return _fernet(get_settings().secret_key).decrypt(value[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: OPENBSS_SECRET_KEY differs from the one used "
                         "to encrypt") from exc


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)


def mask(value: str, visible: int = 4) -> str:
    """``"X1234567"`` → ``"****4567"``."""
    if len(value) <= visible:
        return "*" * len(value)
    return "*" * (len(value) - visible) + value[-visible:]
