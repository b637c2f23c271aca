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

# Bumped whenever a normalizer's output changes for some input (with Normalizers.VERSION in
# the Java library, which must match): tokens then change like on
# a key rotation, so snapshots record it and a change re-tokenizes every row. Version 2:
# NFKC first everywhere, "+81 (0)3..." without its trunk 0, unparsable values keep their
# NFKC form instead of losing every non-digit, names with white space runs collapsed.
NORMALIZER_VERSION = 2
# Trimmed from both ends after NFKC, which maps ideographic and no-break spaces to ' '.
TRIM = " \t\n\r\f\v"
# After NFKC: the hyphen and dash family, the minus sign, the IME long-vowel dash, the box
# drawing lines an IME offers for it, wavy and double dashes.
DASHES = (
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\u2500\u2501\u3030\u2e3a\u2e3b\u30a0\u2043"
)
# Copied and pasted text carries these unseen between digits.
INVISIBLE = "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
# Typed between the digit groups of a PAN (after NFKC): white space and line breaks, the
# dashes, dot, slash, underscore, middle dots, tildes and wave dashes, commas, colons,
# bars and parentheses (a parenthesized digit, NFKC of ⑷, is "(4)").
SEPARATORS = " \t\n\r" + DASHES + INVISIBLE + "._/\u30fb\u00b7~\u301c\u3001,:|()"
MAX_SEPARATOR_RUN = 5
# Kanji numerals count as digits in free text (a PAN written out vertically, say).
KANJI_DIGITS = "\u3007\u4e00\u4e8c\u4e09\u56db\u4e94\u516d\u4e03\u516b\u4e5d"
PAN_MARK, EMAIL_MARK, PHONE_MARK = "[PAN]", "[EMAIL]", "[PHONE]"

_AT = r"(?:@|\((?:at|AT)\)|\[(?:at|AT)\]|\u2605|\u2606)"
_DOT = r"(?:\.| ?\((?:dot|DOT)\) ?| ?\[(?:dot|DOT)\] ?)"
_LABEL = r"[A-Za-z0-9\-\u3040-\u30ff\u3400-\u9fff]+"
# The look-behind starts a local part only where one can start: a long run of letters or
# digits is then tried once, not from each of its characters (quadratic on long memos).
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+ ?"
    + _AT
    + " ?"
    + _LABEL
    + "(?:"
    + _DOT
    + _LABEL
    + ")*"
    + _DOT
    + "[A-Za-z]{2,}"
)
_PHONE_SEPARATOR = (
    r"[\-\u2010-\u2015\u2212\u30fc\u2500\u2501\u3030\u2e3a\u2e3b\u30a0\u2043.\u30fb~\u301c]"
)
_SEP = "(?: ?" + _PHONE_SEPARATOR + " ?| )"
PHONE = re.compile(
    r"(?<![0-9+])(?:(?:\+|00|010"
    + _SEP
    + "?)81"
    + _SEP
    + r"?(?:\(0\)"
    + _SEP
    + r"?)?\(?0?|\(0|0)[0-9]{1,4}(?: ?\)"
    + _SEP
    + r"?| ?\( ?|"
    + _SEP
    + r")?[0-9]{1,4}(?:\)"
    + _SEP
    + "?|"
    + _SEP
    + r")?[0-9]{3,4}(?![0-9])"
)
_PHONE_GAP = re.compile(_SEP)
_ASCII_DIGIT_RUN = re.compile("[0-9]+")
_DIGIT_RUNS = re.compile(f"[0-9{KANJI_DIGITS}]+")


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


def _digit_values(run: str) -> str:
    return "".join(c if c <= "9" else str(KANJI_DIGITS.index(c)) for c in run)


def _joined(text: str, start: int, end: int) -> bool:
    return 1 <= end - start <= MAX_SEPARATOR_RUN and all(c in SEPARATORS for c in text[start:end])


def pan_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every PAN in an NFKC string, merged where they overlap."""
    groups = [(m.start(), m.end()) for m in _DIGIT_RUNS.finditer(text)]
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
                digits += _digit_values(text[chain[b][0] : chain[b][1]])
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
    elif digits.startswith("0081"):
        national = digits[4:]
    elif digits.startswith("01081"):
        national = digits[5:]
    else:
        return len(digits) in (10, 11)
    national = national[1:] if national.startswith("0") else national
    return len(national) in (9, 10)


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """A phone span grown over digit groups joined to it by a separator (an extension, an
    international prefix the pattern did not take): no digit of it is left in clear."""
    while m := _PHONE_GAP.match(text, end):
        after = m.end()
        if after < len(text) and "0" <= text[after] <= "9":
            end = _ASCII_DIGIT_RUN.match(text, after).end()  # type: ignore[union-attr]
        else:
            break
    while True:
        before = next(
            (
                start - n
                for n in (1, 2, 3)
                if start - n > 0
                and _PHONE_GAP.fullmatch(text, start - n, start)
                and "0" <= text[start - n - 1] <= "9"
            ),
            None,
        )
        if before is None:
            break
        start = before
        while start > 0 and "0" <= text[start - 1] <= "9":
            start -= 1
    return start, end


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    at = 0
    while at <= len(text) and (m := PHONE.search(text, at)):
        if _phone_digits_ok(m.group()):
            start, end = _widen(text, m.start(), m.end())
            if spans and start <= spans[-1][1]:
                start = spans.pop()[0]
            spans.append((start, end))
            at = end
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
