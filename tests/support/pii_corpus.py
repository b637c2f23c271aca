"""An adversarial corpus of free text as people in Japan type it, and an independent
detector to scan outputs with.

Every card number, address and phone number here is generated (Luhn-valid numbers on test
prefixes): no fixture holds a real one. `positives` must all be redacted; `negatives` look
alike but are not PANs, e-mail addresses or phone numbers, and should survive (a Luhn-valid
13-digit JAN code or invoice number, and 10-11 digits starting with 0, may not).
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass

SEPARATORS = [
    " ", "-", "\u3000", "\uff0d", "\u30fc", "\uff70", "\u2010", "\u2011", "\u2012", "\u2013",
    "\u2014", "\u2015", "\u2212", ".", "\uff0e", "/", "\uff0f", "_", "\u30fb", "\uff65",
    "\u00b7", "~", "\u301c", " - ", "  ", "\t", "\u00a0", "\u2009",
    "\n", "\r\n", "\u3001", ",", ":", "|", "\uff5c", "\u2500", "\u2501", "\u3030", "\u2e3a",
    "\u00ad", "\u200b", "\u2060", "\ufeff", "\u200e", "  -  ", "----", "\t \t ",
]  # fmt: skip
KANJI = "〇一二三四五六七八九"


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(int(c) for c in reversed(digits)):
        total += (d * 2 - 9 if d > 4 else d * 2) if i % 2 else d
    return total % 10 == 0


def make_pan(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return next(body + c for c in "0123456789" if luhn_ok(body + c))


def not_luhn(rng: random.Random, length: int) -> str:
    while True:
        digits = "".join(str(rng.randrange(10)) for _ in range(length))
        if digits[0] != "0" and not luhn_ok(digits):
            return digits


def jan13(rng: random.Random) -> str:
    body = "49" + "".join(str(rng.randrange(10)) for _ in range(10))
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return body + str(check)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def math_bold(digits: str) -> str:
    return "".join(chr(0x1D7CE + int(c)) if c.isdigit() else c for c in digits)


def grouped(digits: str, sizes: tuple[int, ...], sep: str) -> str:
    out, at = [], 0
    for size in sizes:
        out.append(digits[at : at + size])
        at += size
    return sep.join(out)


@dataclass(frozen=True)
class Corpus:
    positives: list[str]
    negatives: list[str]

    @property
    def all(self) -> list[str]:
        return self.positives + self.negatives


def build(seed: int = 20261130) -> Corpus:
    rng = random.Random(seed)
    pos: list[str] = []
    visa = make_pan(rng, "4", 16)
    for sep in SEPARATORS:
        pos.append(f"カード {grouped(visa, (4, 4, 4, 4), sep)} で支払い")
        pos.append(f"番号:{full_width(grouped(make_pan(rng, '5', 16), (4, 4, 4, 4), sep))}")
    for length, prefix in [(13, "4"), (14, "36"), (15, "37"), (16, "35"), (17, "6"), (18, "6"),
                           (19, "62")]:  # fmt: skip
        pan = make_pan(rng, prefix, length)
        pos += [pan, f"card:{pan}!", full_width(pan), f"({pan})", f"?card={pan}&x=1"]
    amex = make_pan(rng, "34", 15)
    pos += [grouped(amex, (4, 6, 5), "-"), full_width(grouped(amex, (4, 6, 5), " "))]
    pan = make_pan(rng, "4", 16)
    pos += [
        "".join(KANJI[int(d)] for d in pan),  # written out in kanji numerals
        "".join(chr(0x2473 + int(d)) if d != "0" else "0" for d in pan),  # ⑷⑴⑴⑴…
        " ".join(pan),  # a digit at a time
        math_bold(pan),
        pan[:8] + full_width(pan[8:]),  # half and full width mixed
        f"{grouped(pan, (4, 4, 4, 4), ' ')} 2024-01-15",
        f"2024-01-15 {grouped(pan, (4, 4, 4, 4), '-')}",
        f"注文 12 {grouped(pan, (4, 4, 4, 4), ' ')}",
        f"{pan}。{make_pan(rng, '5', 16)}",
        f"カード番号は{full_width(pan)}です",
        f"{grouped(pan, (4, 4, 4, 4), ' - ')} 有効期限 12/27",
        f"cardno\t{grouped(pan, (4, 4, 4, 4), chr(9))}",
    ]
    locals_ = ["taro", "hanako.yamada", "shop+tag", "k_sato", "USER.Name"]
    domains = ["example.com", "example.co.jp", "mail.example.jp", "EXAMPLE.NET"]
    for local, domain in zip(locals_ * 2, domains * 3, strict=False):
        address = f"{local}@{domain}"
        pos += [
            f"領収書は {address} へ",
            full_width(address),
            f"{local}＠{domain}",
            f"{local} @ {domain}",
            f"{local}(at){domain}",
            f"{local}[at]{domain.replace('.', '[dot]')}",
            f"{local} (at) {domain.replace('.', ' (dot) ')}",
            f"{local}★{domain}",
        ]
    pos += ["taro@例え.jp", "問い合わせ：ｉｎｆｏ＠サンプル．ｊｐ"]
    phones = ["090-1234-5678", "080 2345 6789", "07034567890", "(03) 1234-5678",
              "03(1234)5678", "03-1234-5678", "06.1234.5678", "0120-123-456", "0570-012-345",
              "+81 90-1234-5678", "+81-3-1234-5678", "+81 (0)3 1234 5678", "+81312345678",
              "045-123-4567", "011-234-5678", "0081-90-1234-5678", "010-81-3-1234-5678",
              "+81-90-1234-5678-0", "03・1234・5678", "090〜1234〜5678", "(03)-1234-5678",
              "03 (1234) 5678"]  # fmt: skip
    for number in phones:
        pos += [f"TEL {number}", full_width(number), f"携帯{number.replace('-', 'ー')}まで"]
    pos += [f"連絡 {full_width('090')}－{full_width('1234')}－{full_width('5678')}"]

    neg: list[str] = []
    for length in (13, 14, 15, 16, 17, 18, 19):
        neg += [f"注文番号 {not_luhn(rng, length)}", f"order #{not_luhn(rng, length)}"]
    for _ in range(6):
        neg.append(f"追跡番号 {not_luhn(rng, 20)}")  # longer than any PAN
        neg.append(f"伝票 {not_luhn(rng, 12)}")  # Yamato-style 12 digits
        neg.append(f"照会 {rng.randrange(10**9, 10**10)}")  # 10 digits, no leading 0
    neg += [
        "¥12,345,678", "12,345円", "1,234,567,890,123円", "合計 ¥1,980 (税込)",
        "2024-01-15", "2024/01/15", "令和6年1月15日", "2024年1月15日 12:30",
        "12:30-13:45", "〒150-0001", "〒０６０－０００１ 札幌市", "v1.2.3", "192.168.0.1",
        "****1234", "下4桁 1234", "x1234", "会員番号 12345678", "EJ123456789JP",
        "税率10%", "3-2-1 渋谷", "1丁目2番3号", "ポイント 1,234pt", "@shop_official",
        "mail me", "example.com", "a@b", "価格は 9,800円", "2024.01.15", "15:00〜18:00",
        "第3営業日", "No.0001", "部屋 1203", "50% OFF", "ID: A-12345-B", "ｺｰﾄﾞ 9876",
        "電話番号なし", "★★★★☆", "🎉🎉", "(株)サンプル", "ﾃｽﾄ", "ＡＢＣ　ＤＥＦ", "",
    ]  # fmt: skip
    for _ in range(8):
        neg.append(f"JAN {jan13(rng)}")  # its own check digit: Luhn-valid by chance
        neg.append(f"登録番号 T{rng.randrange(10**12, 10**13)}")  # invoice registration no.
        neg.append(f"お客様番号 0{rng.randrange(10**8, 10**9)}")  # 10 digits from 0
        neg.append(f"JAN {not_luhn(rng, 13)}")
        neg.append(f"数量 {rng.randrange(1, 99)} 単価 {rng.randrange(100, 99999)}")
    return Corpus(pos, neg)


# The independent detector: written from the rules, not from masking/reference.py.
_DASH_LIKE = set("\u2212\u30fc~\u301c./_\u30fb\u00b7\u3001,:|()\u2500\u2501\u3030")
_KANJI_TO_ASCII = str.maketrans(KANJI, "0123456789")


def _char_class(c: str) -> str:
    if "0" <= c <= "9":
        return "D"
    if c.isspace() or unicodedata.category(c) in ("Pd", "Cf") or c in _DASH_LIKE:
        return "S"
    return "X"


_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]+\s*(?:@|\(at\)|\[at\]|★|☆)\s*\w+\s*(?:\.|\(dot\)|\[dot\])\s*[A-Za-z]",
    re.I,
)
_PHONE = re.compile(
    r"(?<![0-9])(?:(?:\+|00|010\W?)81[^0-9]{0,4}|\(?0)[0-9]"
    r"[0-9 ().\-\u2010-\u2015\u2212\u30fc\u30fb~\u301c]{7,16}[0-9]"
)


def finds_pan(text: str) -> bool:
    text = unicodedata.normalize("NFKC", text).translate(_KANJI_TO_ASCII)
    classes = "".join(_char_class(c) for c in text)
    for chain in re.finditer(r"D+(?:S{1,6}D+)*", classes):
        groups = [m.group() for m in re.finditer(r"[0-9]+", text[chain.start() : chain.end()])]
        for a in range(len(groups)):
            for b in range(a, len(groups)):
                digits = "".join(groups[a : b + 1])
                if 13 <= len(digits) <= 19 and luhn_ok(digits):
                    return True
    return False


def finds_email(text: str) -> bool:
    return bool(_EMAIL.search(unicodedata.normalize("NFKC", text)))


def finds_phone(text: str) -> bool:
    for match in _PHONE.finditer(unicodedata.normalize("NFKC", text)):
        digits = re.sub(r"[^0-9]", "", match.group())
        if match.group().startswith("+") or re.match(r"(?:00|010)81", digits):
            national = re.sub(r"^(?:00|010)?81", "", digits).removeprefix("0")
            if len(national) in (9, 10):
                return True
        elif len(digits) in (10, 11):
            return True
    return False


def findings(text: str) -> list[str]:
    checks = {"PAN": finds_pan, "e-mail": finds_email, "phone": finds_phone}
    return [name for name, check in checks.items() if check(text)]
