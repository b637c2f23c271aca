"""Pure-Python reference tokenizer: what the Spark expressions must reproduce exactly."""

from __future__ import annotations

import hashlib
import hmac

from masking.normalize import py_normalize


def token(value: str | None, key: bytes, normalizer: str = "none") -> bytes | None:
    normalized = py_normalize(normalizer, value)
    if normalized is None:
        return None
    return hmac.new(key, normalized.encode("utf-8"), hashlib.sha256).digest()


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
