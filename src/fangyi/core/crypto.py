"""Protection of personal data at rest (PIPL).

ID numbers and phones are stored encrypted (AES-256-GCM, random nonce) so that a stolen
database dump does not expose them, with keyed hashes (HMAC-SHA256) beside them so that an
exact value, or its last four characters, can still be found with an index. Both keys are
derived from FANGYI_DATA_KEY with HKDF; without that key neither the ciphertext nor the
hashes can be reversed or recomputed.
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# The prefix names the key generation, so a key rotation can re-encrypt lazily.
CIPHER_PREFIX = "g1$"
HASH_HEX_LENGTH = 32


@lru_cache(maxsize=4)
def _keys(master: str) -> tuple[AESGCM, bytes]:
    def derive(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
            master.encode()
        )

    return AESGCM(derive(b"fangyi personal data encryption")), derive(b"fangyi keyed lookup")


def _current_keys() -> tuple[AESGCM, bytes]:
    return _keys(settings.FANGYI_DATA_KEY)


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    cipher, _ = _current_keys()
    nonce = os.urandom(12)
    sealed = cipher.encrypt(nonce, plaintext.encode(), None)
    return CIPHER_PREFIX + base64.b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    if not token.startswith(CIPHER_PREFIX):
        raise ValueError("unknown cipher text format")
    cipher, _ = _current_keys()
    raw = base64.b64decode(token[len(CIPHER_PREFIX) :])
    return cipher.decrypt(raw[:12], raw[12:], None).decode()


def keyed_hash(value: str, purpose: str) -> str:
    """Deterministic, keyed digest of a normalised value, for exact-match lookup.

    `purpose` separates the hash spaces (an ID number's last four digits never collide
    with a phone's)."""
    if not value:
        return ""
    _, mac_key = _current_keys()
    message = purpose.encode() + b"\x00" + value.encode()
    return hmac.new(mac_key, message, hashlib.sha256).hexdigest()[:HASH_HEX_LENGTH]
