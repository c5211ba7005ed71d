"""Secrets at rest: API key hashes (Langfuse-compatible) and user password hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

# scrypt cost: 16 MiB and ~50 ms per hash, OWASP's minimum for interactive logins.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_LEN = 32


def new_key_pair() -> tuple[str, str]:
    """A fresh (public key, secret key) in Langfuse's format."""
    return f"pk-lf-{uuid.uuid4()}", f"sk-lf-{uuid.uuid4()}"


def hash_secret_key(secret_key: str, salt: str) -> str:
    """sha256hex(secret || sha256hex(salt)): Langfuse's fast hash, so keys survive a migration.

    A fast hash is enough because the secret is a random 122-bit uuid, not a password.
    """
    salt_hex = hashlib.sha256(salt.encode()).hexdigest()
    return hashlib.sha256((secret_key + salt_hex).encode()).hexdigest()


def display_secret_key(secret_key: str) -> str:
    """What the UI may show of a secret: 'sk-lf-...abcd'."""
    return f"{secret_key[:6]}...{secret_key[-4:]}"


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def hash_password(password: str) -> str:
    """scrypt with a per-user random salt, encoded as 'scrypt$N$r$p$salt$hash' (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_SCRYPT_LEN)
    return "$".join(("scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)))


def verify_password(password: str, encoded: str | None) -> bool:
    """Constant-time check; False for malformed or foreign (e.g. bcrypt) hashes."""
    if not encoded:
        return False
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, want = _unb64(parts[4]), _unb64(parts[5])
        got = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
