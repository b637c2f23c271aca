"""HMAC-SHA256 as Spark built-in expressions (RFC 2104), so tokens are computed in the JVM.

HMAC(K, m) = H((K' xor opad) || H((K' xor ipad) || m)), K' = K padded (or hashed) to the
64-byte SHA-256 block. Only sha2/unhex/concat are used, which every Spark 3.x/4.x (and so
every Glue version) has. The pads are key-equivalent literals in the plan: never log plans.
"""

from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

BLOCK_SIZE = 64


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK_SIZE, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_sha256(message: Column, key: bytes) -> Column:
    """32-byte binary HMAC-SHA256 of a string or binary column; NULL in, NULL out."""
    ipad, opad = _pads(key)
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), message.cast("binary")), 256))
    return F.unhex(F.sha2(F.concat(F.lit(opad), inner), 256))
