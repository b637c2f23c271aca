"""Pure-Python reference of cardlake's JVM masking library (masking/jvm): normalizers, tokens,
free-text redaction and PAN detection. The Java UDFs must give identical output for every
input (tests/test_masking.py checks both with Hypothesis); tests and benchmarks use this
module as the oracle. It imports nothing from Spark.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

NORMALIZERS = ("none", "pan", "email", "phone", "name")
# Bumped whenever a normalizer's output changes for some input: tokens then change like on
# a key rotation, so snapshots record it and a change re-tokenizes every row. Version 2:
# NFKC first everywhere, "+81 (0)3..." without its trunk 0, unparsable values keep their
# NFKC form instead of losing every non-digit, names with white space runs collapsed.
NORMALIZER_VERSION = 2
# Trimmed from both ends after NFKC, which maps ideographic and no-break spaces to ' '.
TRIM = " \t\n\r\f\v"
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"
# Typed between the digit groups of a PAN (after NFKC): spaces, the hyphen and dash family,
# the IME long-vowel dash, dot, underscore, slash, middle dots and tildes.
SEPARATORS = " \t-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc._/\u30fb\u00b7~\u301c"
MAX_SEPARATOR_RUN = 3
PAN_MARK, EMAIL_MARK, PHONE_MARK = "[PAN]", "[EMAIL]", "[PHONE]"

_AT = r"(?:@|\((?:at|AT)\)|\[(?:at|AT)\])"
_DOT = r"(?:\.|\((?:dot|DOT)\)|\[(?:dot|DOT)\])"
EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]+ ?" + _AT + r" ?[A-Za-z0-9\-]+(?:" + _DOT + r"[A-Za-z0-9\-]+)*"
    rf"{_DOT}[A-Za-z]{{2,}}"
)
_SEP = "(?: ?[-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc.] ?| )"
PHONE = re.compile(
    r"(?<![0-9+])(?:\+81" + _SEP + r"?(?:\(0\)" + _SEP + r"?)?\(?0?|\(0|0)[0-9]{1,4}"
    r"(?:\) ?|" + _SEP + r"|\()?[0-9]{1,4}(?:\) ?|" + _SEP + r")?[0-9]{3,4}(?![0-9])"
)
_ASCII_DIGITS = re.compile(r"[0-9]+")


def nfkc(value: str) -> str:
    return value if value.isascii() else unicodedata.normalize("NFKC", value)


def _trim(value: str) -> str:
    return value.strip(TRIM)


def _digits(value: str) -> str:
    return "".join(c for c in value if "0" <= c <= "9")


def _ascii_lower(value: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in value)


def _pan_digits(text: str) -> str | None:
    if any(not ("0" <= c <= "9") and c not in SEPARATORS for c in text):
        return None
    digits = _digits(text)
    return digits if 8 <= len(digits) <= 19 else None


def _is_email(value: str) -> bool:
    at = value.find("@")
    if at <= 0 or at != value.rfind("@"):
        return False
    dot = value.rfind(".")
    if dot <= at + 1 or dot == len(value) - 1:
        return False
    return not any(c in TRIM for c in value)


def _e164(text: str) -> str | None:
    plus = text.startswith("+")
    body = (text[1:] if plus else text).replace("(0)", "")
    if any(not ("0" <= c <= "9") and c not in " ().-" and c not in DASHES for c in body):
        return None
    digits = _digits(body)
    if plus and digits.startswith("81"):
        national = digits[2:]
        out = "+81" + (national[1:] if national.startswith("0") else national)
    elif plus:
        out = "+" + digits
    else:
        out = "+81" + (digits[1:] if digits.startswith("0") else digits)
    return out if 8 <= len(out) - 1 <= 15 else None


def _name(value: str) -> str:
    return " ".join(part for part in re.split(f"[{re.escape(TRIM)}]+", _trim(nfkc(value))) if part)


def normalize(kind: str, value: str | None) -> str | None:
    """The value a token is computed from: its canonical form, or the trimmed NFKC form of a
    value the normalizer cannot parse (see :func:`unparsed`)."""
    if value is None or kind == "none":
        return value
    if kind == "pan":
        text = _trim(nfkc(value))
        return _pan_digits(text) or text
    if kind == "email":
        return _ascii_lower(_trim(nfkc(value)))
    if kind == "phone":
        text = _trim(nfkc(value))
        return _e164(text) or text
    if kind == "name":
        return _name(value)
    raise ValueError(f"unknown normalizer {kind!r}")


def unparsed(kind: str, value: str | None) -> bool:
    """True where the normalizer could not parse a value (it is counted in the run report)."""
    if value is None:
        return False
    if kind == "pan":
        return _pan_digits(_trim(nfkc(value))) is None
    if kind == "email":
        return not _is_email(_ascii_lower(_trim(nfkc(value))))
    if kind == "phone":
        return _e164(_trim(nfkc(value))) is None
    return False


def pan_display_digits(value: str | None) -> str | None:
    """ASCII digits of the NFKC form: what the BIN and last-4 display columns are cut from."""
    return None if value is None else _digits(nfkc(value))


def token(value: str | None, key: bytes, normalizer: str = "none") -> bytes | None:
    normalized = normalize(normalizer, value)
    if normalized is None:
        return None
    return hmac.new(key, normalized.encode("utf-8"), hashlib.sha256).digest()


def luhn_valid(digits: str) -> bool:
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _joined(text: str, start: int, end: int) -> bool:
    return 1 <= end - start <= MAX_SEPARATOR_RUN and all(c in SEPARATORS for c in text[start:end])


def pan_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every PAN in an NFKC string, merged where they overlap."""
    groups = [(m.start(), m.end()) for m in _ASCII_DIGITS.finditer(text)]
    chains: list[list[tuple[int, int]]] = []
    for group in groups:
        if chains and _joined(text, chains[-1][-1][1], group[0]):
            chains[-1].append(group)
        else:
            chains.append([group])
    spans = []
    for chain in chains:
        for a in range(len(chain)):
            digits = ""
            for b in range(a, len(chain)):
                digits += text[chain[b][0] : chain[b][1]]
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and luhn_valid(digits):
                    spans.append((chain[a][0], chain[b][1]))
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _replace(text: str, spans: list[tuple[int, int]], mark: str) -> str:
    out, at = [], 0
    for start, end in spans:
        out += [text[at:start], mark]
        at = end
    return "".join([*out, text[at:]])


def _phone_digits_ok(match: str) -> bool:
    digits = _digits(match)
    if match.startswith("+"):
        national = digits[2:]
        national = national[1:] if national.startswith("0") else national
        return len(national) in (9, 10)
    return len(digits) in (10, 11)


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans, at = [], 0
    while at <= len(text) and (m := PHONE.search(text, at)):
        if _phone_digits_ok(m.group()):
            spans.append((m.start(), m.end()))
            at = m.end()
        else:
            at = m.start() + 1
    return spans


def _may_hold_something(text: str) -> bool:
    return any(c >= "\x80" or "0" <= c <= "9" or c in "@([" for c in text)


def redact(text: str | None) -> str | None:
    """PANs, e-mail addresses and phone numbers replaced by markers, found on the NFKC form;
    text with none of them is returned as it was."""
    if text is None or not _may_hold_something(text):
        return text
    normalized = nfkc(text)
    pans = pan_spans(normalized)
    no_pan = _replace(normalized, pans, PAN_MARK)
    emails = [(m.start(), m.end()) for m in EMAIL.finditer(no_pan)]
    no_email = _replace(no_pan, emails, EMAIL_MARK)
    phones = _phone_spans(no_email)
    if not (pans or emails or phones):
        return text
    return _replace(no_email, phones, PHONE_MARK)


def has_pan(text: str | None) -> bool:
    """Whether a string holds a Luhn-valid PAN in any typed form."""
    return text is not None and bool(pan_spans(nfkc(text)))
