"""Secrets at rest: MultiFernet over settings.FIELD_ENCRYPTION_KEYS (newest first, so keys rotate)."""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet_key(key):
    # a 32-byte urlsafe-base64 key is used as is; any other string is stretched to one
    try:
        if len(base64.urlsafe_b64decode(key.encode())) == 32:
            return key.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest())


@cache
def _multifernet(keys):
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def fernet():
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


@cache
def _primary(key):
    return Fernet(_fernet_key(key))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("a stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS") from None


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (MultiFernet.rotate)."""
    if not token:
        return ""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise ValueError("a stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS") from None


def is_current(token: str) -> bool:
    """Whether the newest key alone decrypts the token (nothing to rotate)."""
    try:
        _primary(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True
