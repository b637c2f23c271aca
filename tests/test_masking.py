"""Tokenization and redaction: Spark built-in expressions against the Python references."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from masking.freetext import count_pans, redact
from masking.keyed_hash import hmac_sha256
from masking.normalize import NORMALIZERS, spark_normalize
from masking.reference import luhn_valid, token

pytestmark = pytest.mark.spark

# RFC 4231 HMAC-SHA256 test cases 1, 2, 3, 4, 6 and 7 (key, data, expected), in hex.
RFC4231 = [
    (
        "0b" * 20,
        b"Hi There".hex(),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        b"Jefe".hex(),
        b"what do ya want for nothing?".hex(),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    ("aa" * 20, "dd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (
        "0102030405060708090a0b0c0d0e0f10111213141516171819",
        "cd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    (
        "aa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First".hex(),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        "aa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".hex(),
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


def test_rfc4231_vectors(spark: SparkSession) -> None:
    rows = [(bytes.fromhex(data), expected) for _, data, expected in RFC4231]
    df = spark.createDataFrame(rows, "data binary, expected string")
    results = [
        df.where(F.col("expected") == expected)
        .select(F.lower(F.hex(hmac_sha256(F.col("data"), bytes.fromhex(key)))))
        .first()[0]
        for key, _, expected in RFC4231
    ]
    assert results == [expected for _, _, expected in RFC4231]


# Characters assigned in Python's Unicode tables (ICU in the JVM may know newer ones).
TEXT = st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=40)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=20),
    key=st.binary(min_size=1, max_size=100),
)
def test_tokens_equal_the_python_reference(
    spark: SparkSession, values: list[str | None], key: bytes
) -> None:
    df = spark.createDataFrame([(v,) for v in values], "v string")
    for kind in NORMALIZERS:
        got = [
            r[0] for r in df.select(hmac_sha256(spark_normalize(kind, F.col("v")), key)).collect()
        ]
        want = [token(v, key, kind) for v in values]
        assert [None if g is None else bytes(g) for g in got] == want, kind


def _pan(prefix: str, length: int, seed: int) -> str:
    """A generated Luhn-valid PAN (fixtures never hold literal card numbers)."""
    rng = random.Random(seed)
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return next(body + c for c in "0123456789" if luhn_valid(body + c))


def _broken(pan: str) -> str:
    """The same digits with the check digit off by one: not a PAN."""
    return pan[:-1] + str((int(pan[-1]) + 1) % 10)


def _grouped(pan: str, sizes: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(pan[i : i + size])
        i += size
    return sep.join(out)


VISA, MASTER, AMEX, LONG = _pan("4", 16, 1), _pan("5", 16, 2), _pan("37", 15, 3), _pan("6", 19, 4)


def test_token_is_plain_hmac_of_the_normalized_value() -> None:
    key = b"k" * 32
    assert (
        token(_grouped(VISA, (4, 4, 4, 4), "-"), key, "pan")
        == hmac.new(key, VISA.encode(), hashlib.sha256).digest()
    )
    assert token("  Taro@Example.COM ", key, "email") == token("taro@example.com", key, "email")
    assert token("090-1234-5678", key, "phone") == token("+81 90 1234 5678", key, "phone")
    assert token("ﾀﾛｳ", key, "name") == token("タロウ", key, "name")
    assert token("x", key) != token("x", b"j" * 32)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"card {_grouped(VISA, (4, 4, 4, 4), ' ')} ok", "card [PAN] ok"),
        (f"amex {_grouped(AMEX, (4, 6, 5), '-')}", "amex [PAN]"),
        (f"19 digits {_broken(LONG)}x", f"19 digits {_broken(LONG)}x"),
        (f"19 digits {LONG} end", "19 digits [PAN] end"),
        (f"order {_broken(VISA)}", f"order {_broken(VISA)}"),  # 16 digits, not Luhn-valid
        (f"two {VISA} and {MASTER}", "two [PAN] and [PAN]"),
        (f"longer run {VISA}0000", f"longer run {VISA}0000"),  # 20 digits: no PAN
        ("mail Taro.Y@example.co.jp please", "mail [EMAIL] please"),
        ("call 090-1234-5678 or +81 3-1234-5678", "call [PHONE] or [PHONE]"),
        ("日本語 🎉 only", "日本語 🎉 only"),
        (None, None),
    ],
)
def test_redaction(spark: SparkSession, text: str | None, expected: str | None) -> None:
    df = spark.createDataFrame([(text,)], "t string")
    assert df.select(redact(F.col("t"))).first()[0] == expected


def test_pan_counter_counts_rows_not_values(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(VISA, "x"), (f"note {_grouped(MASTER, (4, 4, 4, 4), ' ')}", None), (_broken(VISA), "y")],
        "a string, b string",
    )
    assert count_pans(df) == {"a": 2, "b": 0}


def test_reference_luhn() -> None:
    assert all(luhn_valid(p) for p in (VISA, MASTER, AMEX, LONG))
    assert not luhn_valid(_broken(VISA)) and not luhn_valid("41111x11")
