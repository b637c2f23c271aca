"""The JVM masking UDFs against the pure-Python reference (masking/reference.py)."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from etl.contracts.manifest import NORMALIZERS
from masking import reference
from masking.freetext import count_pans
from masking.jvm import jvm_masking
from masking.keys import TokenKey
from masking.reference import luhn_valid, token

pytestmark = pytest.mark.spark

# RFC 4231 HMAC-SHA256 test cases with text data (1, 2, 6, 7): keys of 20, 4 and 131 bytes.
RFC4231 = [
    ("0b" * 20, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        b"Jefe".hex(),
        "what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        "aa" * 131,
        "Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        "aa" * 131,
        "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


def _key(material: bytes, version: int = 1) -> TokenKey:
    return TokenKey("pan", version, material)


def test_rfc4231_vectors(spark: SparkSession) -> None:
    masking = jvm_masking(spark)
    got = []
    for key_hex, data, _ in RFC4231:
        df = spark.createDataFrame([(data,)], "v string")
        token_col = masking.token(F.col("v"), _key(bytes.fromhex(key_hex)), "none")
        got.append(df.select(F.lower(F.hex(token_col))).first()[0])
    assert got == [expected for _, _, expected in RFC4231]


def _pan(length: int, rng: random.Random, prefix: str = "4") -> str:
    """A generated Luhn-valid PAN (fixtures never hold literal card numbers)."""
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return next(body + c for c in "0123456789" if luhn_valid(body + c))


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


SEPARATORS = [" ", "-", "　", "－", "ー", "‐", "–", "—", "−", ".", "/", "_", "・", "･", " - ", "  ",
              "\n", "\r\n", "、", ",", ":", "|", "─", "━", "\u200b", "\u00ad", "  -  "]  # fmt: skip


@st.composite
def typed_pans(draw: st.DrawFn) -> str:
    rng = random.Random(draw(st.integers(0, 2**32)))
    pan = _pan(draw(st.integers(13, 19)), rng, draw(st.sampled_from(["3", "4", "5", "6"])))
    cuts = sorted(draw(st.sets(st.integers(1, len(pan) - 1), max_size=5)))
    parts = [pan[a:b] for a, b in zip([0, *cuts], [*cuts, len(pan)], strict=True)]
    seps = [draw(st.sampled_from(SEPARATORS)) for _ in parts[1:]]
    typed = parts[0] + "".join(s + p for s, p in zip(seps, parts[1:], strict=True))
    if draw(st.booleans()):
        typed = _full_width(typed)
    return (
        draw(st.sampled_from(["", "カード ", "card:", "番号は"]))
        + typed
        + draw(st.sampled_from(["", " です", " 2024-01-01", "。", " exp 12/27"]))
    )


@st.composite
def typed_contacts(draw: st.DrawFn) -> str:
    local = draw(st.from_regex(r"[a-z][a-z0-9._]{0,8}", fullmatch=True))
    domain = draw(st.sampled_from(["example.com", "example.co.jp", "mail.example.jp"]))
    at = draw(st.sampled_from(["@", "＠", " @ ", "(at)", "[at]"]))
    number = draw(
        st.sampled_from(
            [
                "090-1234-5678",
                "(03) 1234-5678",
                "03(1234)5678",
                "+81 (0)3 1234 5678",
                "0120-123-456",
            ]
        )
    )
    text = draw(st.sampled_from(["連絡先 {m} / {p}", "{p}まで", "mail {m}", "{m}{p}"]))
    text = text.format(
        m=local + at + domain, p=number.replace("-", draw(st.sampled_from(SEPARATORS)))
    )
    return _full_width(text) if draw(st.booleans()) else text


# Assigned BMP characters, plus the characters the detectors care about. Java 17's NFKC
# knows Unicode 13 and Python 3.11's Unicode 14: they differ only on characters new in 14
# with a compatibility form (U+A7F2-A7F4 in the BMP, Latin Extended-F beyond it).
UNICODE_14_COMPATIBILITY = "\ua7f2\ua7f3\ua7f4"
TEXT = st.text(
    st.one_of(
        st.characters(
            exclude_categories=("Cs", "Cn"),
            max_codepoint=0xFFFF,
            exclude_characters=UNICODE_14_COMPATIBILITY,
        ),
        st.sampled_from([*"0123456789０１２３４５６７８９@＠-ー－ ()（）+＋.", "①", "⑩"]),
    ),
    max_size=40,
)
VALUES = st.lists(
    st.one_of(st.none(), TEXT, typed_pans(), typed_contacts()), min_size=1, max_size=25
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=VALUES, key=st.binary(min_size=1, max_size=100))
def test_jvm_udfs_equal_the_python_reference(
    spark: SparkSession, values: list[str | None], key: bytes
) -> None:
    masking = jvm_masking(spark)
    df = spark.createDataFrame([(v,) for v in values], "v string")
    v = F.col("v")
    columns = [masking.redact(v), masking.has_pan(v), masking.pan_display_digits(v)]
    for kind in NORMALIZERS:
        columns += [masking.normalize(v, kind), masking.unparsed(v, kind)]
        columns.append(masking.token(v, _key(key), kind))
    rows = df.select(*columns).collect()
    for value, row in zip(values, rows, strict=True):
        want: list[object] = [
            reference.redact(value),
            reference.has_pan(value),
            reference.pan_display_digits(value),
        ]
        for kind in NORMALIZERS:
            want += [reference.normalize(kind, value), reference.unparsed(kind, value)]
            want.append(token(value, key, kind))
        got = [bytes(g) if isinstance(g, bytearray) else g for g in row]
        assert got == want, value


def test_canonical_values_keep_their_tokens() -> None:
    """Values already in canonical form tokenize as plain HMAC of themselves, as before."""
    key = random.Random(7).randbytes(32)
    pan = _pan(16, random.Random(1))
    for kind, value in [
        ("pan", pan),
        ("email", "taro.yamada@example.co.jp"),
        ("phone", "+819012345678"),
        ("name", "山田 太郎"),
    ]:
        assert token(value, key, kind) == hmac.new(key, value.encode(), hashlib.sha256).digest()


TYPED = _pan(16, random.Random(9))  # generated: fixtures hold no literal card number


@pytest.mark.parametrize(
    ("kind", "typed", "canonical"),
    [
        ("pan", _full_width("-".join(TYPED[i : i + 4] for i in range(0, 16, 4))), TYPED),
        ("pan", "　".join(TYPED[i : i + 4] for i in range(0, 16, 4)), TYPED),
        ("email", " Ｔａｒｏ＠Ｅｘａｍｐｌｅ．ＣＯＭ ", "taro@example.com"),
        ("phone", "０９０－１２３４－５６７８", "+819012345678"),
        ("phone", "(03) 1234-5678", "+81312345678"),
        ("phone", "03(1234)5678", "+81312345678"),
        ("phone", "+81 (0)3 1234 5678", "+81312345678"),
        ("phone", "＋８１ ９０ １２３４ ５６７８", "+819012345678"),
        ("phone", "090ー1234ー5678", "+819012345678"),
        ("name", "ﾀﾛｳ　 ヤマダ", "タロウ ヤマダ"),
    ],
)
def test_typed_forms_normalize_to_the_canonical_value(
    kind: str, typed: str, canonical: str
) -> None:
    assert reference.normalize(kind, typed) == canonical
    assert not reference.unparsed(kind, typed)


@pytest.mark.parametrize(
    ("kind", "value"),
    [("phone", "090-CALL-NOW"), ("email", "taro.example.com"), ("pan", "4111-xxxx-1111")],
)
def test_unparsable_values_keep_their_nfkc_form_and_are_counted(kind: str, value: str) -> None:
    assert reference.unparsed(kind, value)
    assert reference.normalize(kind, _full_width(value)) == reference.normalize(kind, value)
    assert reference.token(value, b"k" * 32, kind) is not None


def _grouped(pan: str, sizes: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(pan[i : i + size])
        i += size
    return sep.join(out)


def _broken(pan: str) -> str:
    """The same digits with the check digit off by one: not a PAN."""
    return pan[:-1] + str((int(pan[-1]) + 1) % 10)


RNG = random.Random(5)
VISA, MASTER = _pan(16, RNG, "4"), _pan(16, RNG, "5")
AMEX, LONG = _pan(15, RNG, "37"), _pan(19, RNG, "6")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"card {_grouped(VISA, (4, 4, 4, 4), ' ')} ok", "card [PAN] ok"),
        (f"amex {_grouped(AMEX, (4, 6, 5), '-')}", "amex [PAN]"),
        (f"19 digits {_broken(LONG)}x", None),
        (f"19 digits {LONG} end", "19 digits [PAN] end"),
        (f"order {_broken(VISA)}", None),  # 16 digits, not Luhn-valid
        (f"two {VISA} and {MASTER}", "two [PAN] and [PAN]"),
        (f"longer run {VISA}0000", None),  # 20 digits: no PAN
        (f"カード {_full_width(VISA)} で", "カード [PAN] で"),
        (f"カード {_grouped(_full_width(VISA), (4, 4, 4, 4), '　')}", "カード [PAN]"),
        (f"{_grouped(VISA, (4, 4, 4, 4), 'ー')}", "[PAN]"),
        (f"{_grouped(VISA, (4, 4, 4, 4), ' - ')} 2024-01-01", "[PAN] 2024-01-01"),
        (f"{_grouped(VISA, (4, 4, 4, 4), '・')}", "[PAN]"),
        ("mail Taro.Y@example.co.jp please", "mail [EMAIL] please"),
        ("メール ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ まで", "メール [EMAIL] まで"),
        ("call 090-1234-5678 or +81 3-1234-5678", "call [PHONE] or [PHONE]"),
        ("電話 (03) 1234-5678 / ０９０－１２３４－５６７８", "電話 [PHONE] / [PHONE]"),
        ("日本語 🎉 only", None),
        ("ﾃｽﾄ no digits", None),  # unchanged, not NFKC-normalized, when nothing is found
        (None, None),
    ],
)
def test_redaction(spark: SparkSession, text: str | None, expected: str | None) -> None:
    expected = text if expected is None else expected
    assert reference.redact(text) == expected
    df = spark.createDataFrame([(text,)], "t string")
    assert df.select(jvm_masking(spark).redact(F.col("t"))).first()[0] == expected


def test_pan_counter_counts_rows_not_values(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [
            (VISA, "x"),
            (f"note {_grouped(_full_width(MASTER), (4, 4, 4, 4), '－')}", None),
            (_broken(VISA), "y"),
        ],
        "a string, b string",
    )
    assert count_pans(df) == {"a": 2, "b": 0}


def test_a_udf_plan_shows_names_never_key_bytes(spark: SparkSession) -> None:
    key = random.Random(3).randbytes(32)
    df = spark.createDataFrame([("x",)], "v string")
    masked = df.select(jvm_masking(spark).token(F.col("v"), _key(key, 9), "none"))
    plan = masked._jdf.queryExecution().toString()
    assert "cl_token_pan_v9_none" in plan
    assert key.hex() not in plan.lower()


def test_reference_luhn() -> None:
    assert all(luhn_valid(p) for p in (VISA, MASTER, AMEX, LONG))
    assert not luhn_valid(_broken(VISA)) and not luhn_valid("41111x11")


def test_values_the_normalizers_cannot_parse_are_counted_as_the_frame_is_read(
    spark: SparkSession,
) -> None:
    from etl.contracts.manifest import manifest_for
    from masking.policy import with_unparsed_counts

    df = spark.createDataFrame(
        [
            ("taro@example.com", "090-1234-5678"),
            ("no at sign", "090-CALL-NOW"),
            ("ｈａｎａ＠ｅｘａｍｐｌｅ．ｊｐ", "(03) 1234-5678"),
            (None, "tel: ask at desk"),
        ],
        "email string, phone string",
    )
    observed, unparsed = with_unparsed_counts(df, manifest_for("members"))
    assert unparsed is not None
    observed.write.format("noop").mode("overwrite").save()
    assert unparsed.get == {"email": 1, "phone": 2}


def test_a_jar_of_another_normalizer_version_is_refused(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl.errors import CardlakeError
    from masking import jvm

    monkeypatch.setattr(jvm, "NORMALIZER_VERSION", reference.NORMALIZER_VERSION + 1)
    with pytest.raises(CardlakeError, match="rebuild it with `make jar`"):
        jvm.JvmMasking(spark)


def test_a_run_id_never_reads_as_a_pan(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt
    import uuid

    from etl import pipeline
    from masking.reference import has_pan

    # Every row carries its run's id; 20261201T185459_9679353a once read as a PAN.
    at = dt.datetime(2026, 12, 1, 18, 54, 59, tzinfo=dt.UTC)
    for suffix in ("9679353a", *(f"{n:08d}" for n in range(0, 10**8, 654_321))):
        monkeypatch.setattr(uuid, "uuid4", lambda s=suffix: uuid.UUID(s + "0" * 24))
        run_id = pipeline.new_run_id(at)
        assert run_id.endswith(suffix) and not has_pan(run_id), run_id
