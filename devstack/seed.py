"""Reproducible synthetic card-issuer data, bulk-loaded into the primary.

Everything is drawn from one numpy Generator seeded by ``--seed`` and anchored at
``end_date``, so the same arguments always produce byte-identical tables. Rows are
generated column-wise and loaded with LOAD DATA LOCAL INFILE (no row-by-row inserts).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from devstack.source_schema import TABLE_ORDER, metadata
from devstack.stack import Endpoint

US_PER_DAY = 86_400_000_000
JST_OFFSET_US = 9 * 3_600_000_000

FAMILY = [
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "山口",
    "松本",
    "井上",
    "木村",
    "林",
    "清水",
    "斎藤",
]
FAMILY_KANA = [
    "サトウ",
    "スズキ",
    "タカハシ",
    "タナカ",
    "イトウ",
    "ワタナベ",
    "ヤマモト",
    "ナカムラ",
    "コバヤシ",
    "カトウ",
    "ヨシダ",
    "ヤマダ",
    "ササキ",
    "ヤマグチ",
    "マツモト",
    "イノウエ",
    "キムラ",
    "ハヤシ",
    "シミズ",
    "サイトウ",
]
FAMILY_ROMAJI = [
    "sato",
    "suzuki",
    "takahashi",
    "tanaka",
    "ito",
    "watanabe",
    "yamamoto",
    "nakamura",
    "kobayashi",
    "kato",
    "yoshida",
    "yamada",
    "sasaki",
    "yamaguchi",
    "matsumoto",
    "inoue",
    "kimura",
    "hayashi",
    "shimizu",
    "saito",
]
GIVEN = [
    "陽翔",
    "蓮",
    "湊",
    "大翔",
    "悠真",
    "結菜",
    "陽葵",
    "凛",
    "芽依",
    "葵",
    "さくら",
    "美咲",
    "健太",
    "翔太",
    "七海",
    "優子",
    "ひなた",
    "拓也",
    "彩花",
    "颯",
]
GIVEN_KANA = [
    "ハルト",
    "レン",
    "ミナト",
    "ヒロト",
    "ユウマ",
    "ユイナ",
    "ヒマリ",
    "リン",
    "メイ",
    "アオイ",
    "サクラ",
    "ミサキ",
    "ケンタ",
    "ショウタ",
    "ナナミ",
    "ユウコ",
    "ヒナタ",
    "タクヤ",
    "アヤカ",
    "ハヤテ",
]
GIVEN_ROMAJI = [
    "haruto",
    "ren",
    "minato",
    "hiroto",
    "yuma",
    "yuina",
    "himari",
    "rin",
    "mei",
    "aoi",
    "sakura",
    "misaki",
    "kenta",
    "shota",
    "nanami",
    "yuko",
    "hinata",
    "takuya",
    "ayaka",
    "hayate",
]
# (prefecture, first postal digit range, weight)
PREFECTURES = [
    ("東京都", (100, 208), 0.30),
    ("神奈川県", (210, 259), 0.15),
    ("大阪府", (530, 599), 0.14),
    ("愛知県", (440, 498), 0.10),
    ("埼玉県", (330, 369), 0.09),
    ("千葉県", (260, 299), 0.08),
    ("福岡県", (800, 839), 0.07),
    ("北海道", (40, 99), 0.07),
]
TOWNS = ["本町", "中央", "緑町", "桜台", "港南", "栄", "東山", "西新宿", "南青山", "北浜"]
SUPPORT_TARGETS = [
    ("東京ブルーウェーブス", "sports_team", "0.0050"),
    ("大阪サンダース", "sports_team", "0.0050"),
    ("北海道スノーフォックス", "sports_team", "0.0030"),
    ("ミッドナイト・ルミナス", "artist", "0.0100"),
    ("さくらハーモニー", "artist", "0.0080"),
    ("Neon Tide", "artist", "0.0100"),
]
# (design name, brand, support target index or None, annual fee)
CARD_DESIGNS = [
    ("Standard Blue", "visa", None, "0"),
    ("Standard Black", "mastercard", None, "0"),
    ("Gold", "jcb", None, "11000"),
    ("Blue Waves Fan", "visa", 0, "0"),
    ("Thunders Fan", "mastercard", 1, "0"),
    ("Snow Fox Fan", "jcb", 2, "0"),
    ("Luminous Live", "visa", 3, "1100"),
    ("Sakura Harmony", "jcb", 4, "0"),
    ("Neon Tide Tour", "amex", 5, "2200"),
]
# Test BIN prefixes of each brand (public test-card ranges, never issued to people).
TEST_BINS = {"visa": "411111", "mastercard": "555555", "jcb": "353011", "amex": "378282"}
PAN_LENGTH = {"visa": 16, "mastercard": 16, "jcb": 16, "amex": 15}
MERCHANTS = [
    ("セブン-イレブン", "5411", 800),
    ("ローソン", "5411", 750),
    ("ファミリーマート", "5411", 780),
    ("スターバックス", "5814", 650),
    ("Amazon.co.jp", "5942", 3500),
    ("楽天市場", "5999", 4200),
    ("JR東日本", "4111", 2400),
    ("ユニクロ", "5651", 4800),
    ("ENEOS", "5541", 5200),
    ("TOHOシネマズ", "7832", 2000),
    ("イオン", "5311", 3800),
    ("Apple", "5732", 9800),
]
# Signup times have a density growing like t ** SIGNUP_GROWTH over the window (1: linear).
SIGNUP_GROWTH = 0.0
# A card goes dormant after an exponential lifetime (mean, days): vintages decay.
CARD_LIFETIME_DAYS = 90
# (share of statements, first and last+1 day late): paid by the due date, cured 1-29,
# 30-59 or 60-89 days late, never paid (days unused).
REPAYMENT_BANDS = [
    (0.930, 0, 1),
    (0.036, 1, 29),
    (0.016, 30, 60),
    (0.007, 60, 90),
    (0.011, 0, 1),
]
MEMOS = ["立替 ☕", "家族の分", "ポイント還元🎉", "出張経費", "プレゼント🎁", "Café ☕ with 友達"]


@dataclass(frozen=True)
class SeedSpec:
    members: int
    days: int
    seed: int
    end_date: dt.date

    @property
    def start_us(self) -> int:
        return self.end_us - self.days * US_PER_DAY

    @property
    def end_us(self) -> int:
        epoch = dt.date(1970, 1, 1)
        return (self.end_date - epoch).days * US_PER_DAY


def luhn_check_digits(body: np.ndarray) -> np.ndarray:
    """Luhn check digit for each row of a (rows, length) array of digits."""
    rev = body[:, ::-1]
    doubled = rev[:, 0::2] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = doubled.sum(axis=1) + rev[:, 1::2].sum(axis=1)
    return np.asarray((10 - total % 10) % 10)


def make_pans(rng: np.random.Generator, brands: np.ndarray) -> np.ndarray:
    """Luhn-valid PANs on test BINs, one per brand entry."""
    out = np.empty(len(brands), dtype=object)
    for brand, prefix in TEST_BINS.items():
        idx = np.flatnonzero(brands == brand)
        if len(idx) == 0:
            continue
        length = PAN_LENGTH[brand]
        body = np.empty((len(idx), length - 1), dtype=np.int64)
        body[:, :6] = [int(c) for c in prefix]
        body[:, 6:] = rng.integers(0, 10, size=(len(idx), length - 7))
        check = luhn_check_digits(body)
        digits = np.concatenate([body, check[:, None]], axis=1)
        out[idx] = ["".join(map(str, row)) for row in digits.tolist()]
    return out


def _timestamps(us: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(us, unit="us"))


def _choice(rng: np.random.Generator, values: list, size: int, p: list[float] | None = None):
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=size, p=p)]


def generate(spec: SeedSpec) -> dict[str, pd.DataFrame]:
    """Every source table by name. One Generator feeds the tables in this order and each
    table draws in a fixed order, so moving a call or a draw changes every table after it
    (tests/unit/test_seed.py pins the output)."""
    rng = np.random.default_rng(spec.seed)
    support_targets = _support_targets(spec)
    card_designs = _card_designs(spec)
    members = _members(rng, spec)
    applications = _applications(rng, spec, members)
    cards = _cards(rng, spec, applications, card_designs)
    transactions = _transactions(rng, spec, cards)
    statements = _statements(spec, transactions)
    repayments = _repayments(rng, spec, statements)
    return {
        "support_targets": support_targets,
        "card_designs": card_designs,
        "members": members,
        "applications": applications,
        "cards": cards,
        "transactions": transactions,
        "statements": statements,
        "repayments": repayments,
    }


def _micros(values: pd.Series) -> np.ndarray:
    """Microseconds since the epoch of a column of datetimes or dates: a table is derived
    from the columns of the tables before it, exactly, without their intermediate arrays."""
    return np.asarray(pd.to_datetime(values).to_numpy().astype("datetime64[us]").astype(np.int64))


def _catalog_created_at(spec: SeedSpec) -> pd.Timestamp:
    """The catalog (support targets, card designs) exists well before the first member."""
    return _timestamps(np.full(1, spec.start_us - 400 * US_PER_DAY))[0]


def _support_targets(spec: SeedSpec) -> pd.DataFrame:
    created = _catalog_created_at(spec)
    return pd.DataFrame(
        {
            "support_target_id": np.arange(1, len(SUPPORT_TARGETS) + 1),
            "name": [t[0] for t in SUPPORT_TARGETS],
            "category": [t[1] for t in SUPPORT_TARGETS],
            "contribution_rate": [t[2] for t in SUPPORT_TARGETS],
            "created_at": created,
            "updated_at": created,
        }
    )


def _card_designs(spec: SeedSpec) -> pd.DataFrame:
    created = _catalog_created_at(spec)
    return pd.DataFrame(
        {
            "card_design_id": np.arange(1, len(CARD_DESIGNS) + 1),
            "name": [d[0] for d in CARD_DESIGNS],
            "brand": np.array([d[1] for d in CARD_DESIGNS], dtype=object),
            "support_target_id": pd.array(
                [None if d[2] is None else d[2] + 1 for d in CARD_DESIGNS], dtype="Int64"
            ),
            "annual_fee": [d[3] for d in CARD_DESIGNS],
            "created_at": created,
            "updated_at": created,
        }
    )


def _members(rng: np.random.Generator, spec: SeedSpec) -> pd.DataFrame:
    """Members register over the window; signups grow mildly towards the end (a growing
    app: the density of signup times grows like t ** SIGNUP_GROWTH)."""
    n, start, end = spec.members, spec.start_us, spec.end_us
    member_id = np.arange(1, n + 1)
    registered_us = np.sort(
        start + (rng.random(n) ** (1 / (1 + SIGNUP_GROWTH)) * (end - start)).astype(np.int64)
    )
    fam, giv = rng.integers(0, len(FAMILY), n), rng.integers(0, len(GIVEN), n)
    family, given = np.array(FAMILY, dtype=object), np.array(GIVEN, dtype=object)
    fam_kana, giv_kana = np.array(FAMILY_KANA, dtype=object), np.array(GIVEN_KANA, dtype=object)
    fam_rom, giv_rom = np.array(FAMILY_ROMAJI, dtype=object), np.array(GIVEN_ROMAJI, dtype=object)
    pref_idx = rng.choice(len(PREFECTURES), size=n, p=[p[2] for p in PREFECTURES])
    lo = np.array([PREFECTURES[i][1][0] for i in pref_idx])
    hi = np.array([PREFECTURES[i][1][1] for i in pref_idx])
    postal3 = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    postal4 = rng.integers(0, 10_000, n)
    phone = _phones(rng, n)
    birth_days = rng.integers(
        (dt.date(1950, 1, 1) - dt.date(1970, 1, 1)).days,
        (dt.date(2006, 1, 1) - dt.date(1970, 1, 1)).days,
        n,
    )
    gender = _choice(rng, ["F", "M", "X", None], n, [0.48, 0.48, 0.01, 0.03])
    email_domain = _choice(rng, ["com", "jp", "net"], n)
    address_line = [
        f"{TOWNS[t]}{a}-{b}-{c}"
        for t, a, b, c in zip(
            rng.integers(0, len(TOWNS), n).tolist(),
            rng.integers(1, 9, n).tolist(),
            rng.integers(1, 30, n).tolist(),
            rng.integers(1, 20, n).tolist(),
            strict=True,
        )
    ]
    registered = _timestamps(registered_us)
    return pd.DataFrame(
        {
            "member_id": member_id,
            "full_name": family[fam] + " " + given[giv],
            "full_name_kana": fam_kana[fam] + " " + giv_kana[giv],
            "email": [
                f"{g}.{f}{i}@example.{d}"
                for g, f, i, d in zip(
                    giv_rom[giv].tolist(),
                    fam_rom[fam].tolist(),
                    member_id.tolist(),
                    email_domain.tolist(),
                    strict=True,
                )
            ],
            "phone": phone,
            "birth_date": pd.to_datetime(birth_days, unit="D").date,
            "gender": gender,
            "postal_code": [
                f"{a:03d}-{b:04d}" for a, b in zip(postal3.tolist(), postal4.tolist(), strict=True)
            ],
            "prefecture": [PREFECTURES[i][0] for i in pref_idx.tolist()],
            "address_line": address_line,
            "created_at": registered,
            "updated_at": registered,
        }
    )


def _phones(rng: np.random.Generator, n: int) -> pd.Series:
    """Mobile numbers (070/080/090); a few members leave the field empty."""
    phone = pd.Series(
        [
            f"0{p}0-{a:04d}-{b:04d}"
            for p, a, b in zip(
                rng.choice([7, 8, 9], n).tolist(),
                rng.integers(0, 10_000, n).tolist(),
                rng.integers(0, 10_000, n).tolist(),
                strict=True,
            )
        ],
        dtype=object,
    )
    phone[rng.random(n) < 0.03] = None
    return phone


def _applications(rng: np.random.Generator, spec: SeedSpec, members: pd.DataFrame) -> pd.DataFrame:
    """Credit screening: every member applies once, shortly after registering.
    Nothing is dated after end_date: a source never holds rows from the future."""
    end = spec.end_us
    member_id = members["member_id"].to_numpy()
    n = len(member_id)
    # Members who would apply after end_date have not applied yet: their rows are dropped
    # below, after every draw, so the draws stay the same.
    applied_us = _micros(members["created_at"]) + rng.integers(0, 2 * US_PER_DAY, n)
    decision_delay = (rng.exponential(0.8, n) * US_PER_DAY).astype(np.int64) + 600_000_000
    decided_us = applied_us + decision_delay
    outcome = _choice(rng, ["approved", "rejected"], n, [0.70, 0.30])
    pending = decided_us >= end
    status = np.where(pending, "pending", outcome).astype(object)
    design_id = (
        rng.choice(len(CARD_DESIGNS), size=n, p=[0.2, 0.15, 0.08, 0.12, 0.1, 0.06, 0.12, 0.1, 0.07])
        + 1
    )
    limits = _choice(
        rng, ["100000", "200000", "300000", "500000", "800000"], n, [0.3, 0.3, 0.2, 0.15, 0.05]
    )
    reasons = _choice(
        rng, ["insufficient_income", "credit_history", "identity_unverified"], n, [0.5, 0.4, 0.1]
    )
    channel = _choice(rng, ["app", "web"], n, [0.8, 0.2])
    employment_type = _choice(
        rng,
        ["employee", "self_employed", "part_time", "student", "other"],
        n,
        [0.55, 0.12, 0.18, 0.1, 0.05],
    )
    annual_income = rng.lognormal(15.2, 0.5, n) // 10_000 * 10_000
    applications = pd.DataFrame(
        {
            "application_id": member_id,
            "member_id": member_id,
            "requested_card_design_id": design_id,
            "channel": channel,
            "employment_type": employment_type,
            "annual_income": annual_income.astype(np.int64).astype(str),
            "applied_at": _timestamps(applied_us),
            "status": status,
            "decided_at": _timestamps(decided_us).where(~pending),
            "credit_limit": pd.Series(limits).where(status == "approved"),
            "rejection_reason": pd.Series(reasons).where(status == "rejected"),
            "created_at": _timestamps(applied_us),
            "updated_at": _timestamps(np.where(pending, applied_us, decided_us)),
        }
    )
    return applications[applied_us < end].reset_index(drop=True)


def _cards(
    rng: np.random.Generator,
    spec: SeedSpec,
    applications: pd.DataFrame,
    card_designs: pd.DataFrame,
) -> pd.DataFrame:
    """Cards are issued a few days after approval and most are activated within 30 days."""
    end = spec.end_us
    # One issue delay per application, approved or not: the draw's size is part of the data.
    issue_delay = rng.integers(US_PER_DAY, 5 * US_PER_DAY, len(applications))
    approved = (applications["status"] == "approved").to_numpy()
    issue_us = _micros(applications["decided_at"][approved]) + issue_delay[approved]
    # Approved too close to end_date: the card is not issued yet.
    in_window = issue_us < end
    issued = applications[approved][in_window]
    issued_us = issue_us[in_window]
    m = len(issued)
    activation = issued_us + (rng.exponential(6, m) * US_PER_DAY).astype(np.int64)
    activated = (rng.random(m) < 0.85) & (activation < end)
    design_id = issued["requested_card_design_id"].to_numpy()
    brands = card_designs.set_index("card_design_id")["brand"].loc[design_id].to_numpy()
    pans = make_pans(rng, brands)
    cvv = [f"{v:03d}" for v in rng.integers(0, 1000, m).tolist()]
    issued_date = pd.to_datetime(issued_us, unit="us")
    return pd.DataFrame(
        {
            "card_id": np.arange(1, m + 1),
            "member_id": issued["member_id"].to_numpy(),
            "application_id": issued["application_id"].to_numpy(),
            "card_design_id": design_id,
            "pan": pans,
            "cvv": cvv,
            "expiry_month": issued_date.month,
            "expiry_year": issued_date.year + 5,
            "status": np.where(activated, "active", "issued").astype(object),
            "issued_at": _timestamps(issued_us),
            "activated_at": _timestamps(activation).where(activated),
            "created_at": _timestamps(issued_us),
            "updated_at": _timestamps(np.where(activated, activation, issued_us)),
        }
    )


def _transactions(rng: np.random.Generator, spec: SeedSpec, cards: pd.DataFrame) -> pd.DataFrame:
    """Spending: a per-card rate (heavy and light users), uniform from activation until the
    card goes dormant (a per-card churn date), so each signup month's activity decays."""
    active = cards[cards["activated_at"].notna()]
    activation = _micros(active["activated_at"])
    rate = rng.gamma(1.5, 0.5, len(active))  # transactions per day
    lifetime = (rng.exponential(CARD_LIFETIME_DAYS, len(active)) * US_PER_DAY).astype(np.int64)
    span = np.minimum(spec.end_us, activation + lifetime) - activation
    counts = rng.poisson(rate * span / US_PER_DAY)
    card_idx = np.repeat(np.arange(len(active)), counts)
    t_us = np.repeat(activation, counts) + (
        rng.random(len(card_idx)) * np.repeat(span, counts)
    ).astype(np.int64)
    # Ids follow time, ties in card order.
    order = np.argsort(t_us, kind="stable")
    card_idx, t_us = card_idx[order], t_us[order]
    k = len(t_us)
    merchant_idx = rng.integers(0, len(MERCHANTS), k)
    typical = np.array([mm[2] for mm in MERCHANTS])[merchant_idx]
    amount = np.maximum(10, np.round(typical * rng.lognormal(0, 0.6, k), -1)).astype(np.int64)
    txn_type = _choice(
        rng, ["capture", "decline", "refund", "authorization"], k, [0.88, 0.06, 0.03, 0.03]
    )
    memo = _memos(rng, k)
    return pd.DataFrame(
        {
            "transaction_id": np.arange(1, k + 1),
            "card_id": active["card_id"].to_numpy()[card_idx],
            "member_id": active["member_id"].to_numpy()[card_idx],
            "txn_type": txn_type,
            "amount": amount.astype(str),
            "currency": "JPY",
            "merchant_name": np.array([mm[0] for mm in MERCHANTS], dtype=object)[merchant_idx],
            "mcc": np.array([mm[1] for mm in MERCHANTS], dtype=object)[merchant_idx],
            "memo": memo,
            "transacted_at": _timestamps(t_us),
            "created_at": _timestamps(t_us),
            "updated_at": _timestamps(t_us),
        }
    )


def _memos(rng: np.random.Generator, k: int) -> pd.Series:
    """Mostly empty memos, some CJK/emoji, and the dirt people really type in."""
    memo = pd.Series([None] * k, dtype=object)
    kind = rng.random(k)
    plain = np.flatnonzero(kind < 0.04)
    memo[plain] = _choice(rng, MEMOS, len(plain))
    pan_typed = np.flatnonzero((kind >= 0.04) & (kind < 0.043))
    if len(pan_typed):
        pans = make_pans(rng, np.full(len(pan_typed), "visa", dtype=object))
        memo[pan_typed] = [f"カード {p[:4]} {p[4:8]} {p[8:12]} {p[12:]} で支払い" for p in pans]
    order_no = np.flatnonzero((kind >= 0.043) & (kind < 0.046))
    if len(order_no):
        # 16-digit order numbers that are NOT Luhn-valid: they must survive redaction.
        body = rng.integers(0, 10, size=(len(order_no), 15))
        bad = (luhn_check_digits(body) + 1) % 10
        memo[order_no] = [
            "注文番号 " + "".join(map(str, row)) + str(c)
            for row, c in zip(body.tolist(), bad.tolist(), strict=True)
        ]
    contact = np.flatnonzero((kind >= 0.046) & (kind < 0.048))
    memo[contact] = [
        f"連絡は 080-{i % 10_000:04d}-{(i * 7) % 10_000:04d} まで" for i in contact.tolist()
    ]
    mail = np.flatnonzero((kind >= 0.048) & (kind < 0.05))
    memo[mail] = [f"領収書は shop{i}@example.com へ" for i in mail.tolist()]
    return memo


def _jst_month_floor(us: np.ndarray) -> np.ndarray:
    """First day of each timestamp's calendar month in Asia/Tokyo (UTC+9, no DST)."""
    jst = pd.to_datetime(us + JST_OFFSET_US, unit="us")
    return jst.to_period("M").to_timestamp().values.astype("datetime64[D]")


def _statements(spec: SeedSpec, transactions: pd.DataFrame) -> pd.DataFrame:
    """One statement per card and closed month: captures minus refunds of that month. A
    Japanese issuer closes on the last day of the month in Asia/Tokyo (末日締め) and collects
    on the 27th of the next month (翌月27日払い)."""
    txn_type = transactions["txn_type"].to_numpy()
    amount = transactions["amount"].to_numpy().astype(np.int64)
    signed = np.where(txn_type == "capture", amount, np.where(txn_type == "refund", -amount, 0))
    frame = pd.DataFrame(
        {
            "card_id": transactions["card_id"].to_numpy(),
            "member_id": transactions["member_id"].to_numpy(),
            "month": _jst_month_floor(_micros(transactions["transacted_at"])),
            "billed": signed,
        }
    )
    end_day = np.datetime64(spec.end_date, "D")
    grouped = frame.groupby(["card_id", "member_id", "month"], sort=True, as_index=False)[
        "billed"
    ].sum()
    month = grouped["month"].to_numpy().astype("datetime64[M]")
    closing = (month + 1).astype("datetime64[D]") - 1
    grouped = grouped[(closing < end_day) & (grouped["billed"].to_numpy() > 0)].reset_index(
        drop=True
    )
    month = grouped["month"].to_numpy().astype("datetime64[M]")
    closing = (month + 1).astype("datetime64[D]") - 1
    due = (month + 1).astype("datetime64[D]") + 26  # the 27th of the following month
    created = pd.Series(pd.to_datetime(closing) + pd.Timedelta(hours=15))
    billed = grouped["billed"].to_numpy()
    return pd.DataFrame(
        {
            "statement_id": np.arange(1, len(grouped) + 1),
            "card_id": grouped["card_id"].to_numpy(),
            "member_id": grouped["member_id"].to_numpy(),
            "statement_month": pd.to_datetime(month).date,
            "closing_date": pd.to_datetime(closing).date,
            "due_date": pd.to_datetime(due).date,
            "billed_amount": billed.astype(str),
            "minimum_due": np.minimum(billed, np.maximum(3000, billed // 20)).astype(str),
            "created_at": created,
            "updated_at": created,
        }
    )


def _repayments(rng: np.random.Generator, spec: SeedSpec, statements: pd.DataFrame) -> pd.DataFrame:
    """Each statement is paid in full once: most by the due date; of the late ones most cure
    within 30 days, fewer within 60 or 90, and a few never pay (see REPAYMENT_BANDS). The
    balance 30+ days past due is then a few percent of receivables, bucket balances shrink
    with depth and roll-forward rates rise with it, as in real card portfolios."""
    s = len(statements)
    due_us = _micros(statements["due_date"])
    closing_us = _micros(statements["closing_date"])
    band = np.searchsorted(np.cumsum([b[0] for b in REPAYMENT_BANDS]), rng.random(s), side="right")
    band = np.minimum(band, len(REPAYMENT_BANDS) - 1)
    low = np.array([b[1] for b in REPAYMENT_BANDS])[band]
    high = np.array([b[2] for b in REPAYMENT_BANDS])[band]
    days_late = low + (rng.random(s) * (high - low)).astype(np.int64)
    on_time = band == 0
    paid_us = np.where(
        on_time,
        closing_us
        + US_PER_DAY
        + (rng.random(s) * (due_us - closing_us - US_PER_DAY)).astype(np.int64),
        due_us + days_late * US_PER_DAY + rng.integers(0, US_PER_DAY, s),
    )
    never = band == len(REPAYMENT_BANDS) - 1
    paid = ~never & (paid_us < spec.end_us)
    idx = np.flatnonzero(paid)
    channel = _choice(
        rng, ["convenience_store_atm", "bank_transfer", "auto_debit"], len(idx), [0.4, 0.35, 0.25]
    )
    chain = pd.Series(_choice(rng, ["セブン銀行", "ローソン銀行", "イーネット"], len(idx))).where(
        channel == "convenience_store_atm"
    )
    ts = _timestamps(paid_us[idx])
    return (
        pd.DataFrame(
            {
                "repayment_id": np.arange(1, len(idx) + 1),
                "statement_id": statements["statement_id"].to_numpy()[idx],
                "member_id": statements["member_id"].to_numpy()[idx],
                "channel": channel,
                "store_chain": chain,
                "amount": statements["billed_amount"].to_numpy()[idx],
                "paid_at": ts,
                "created_at": ts,
                "updated_at": ts,
            }
        )
        .sort_values("paid_at", kind="stable")
        .assign(repayment_id=lambda f: np.arange(1, len(f) + 1))
    )


def to_load_file(frame: pd.DataFrame, path: Path) -> None:
    """Tab-separated file in LOAD DATA's default escaping (\\N is NULL)."""
    out = pd.DataFrame(index=frame.index)
    for name, col in frame.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            text = col.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        else:
            text = col.astype(object).where(col.notna()).map(str, na_action="ignore")
            if col.dtype == object:
                text = text.str.replace("\\", "\\\\", regex=False).str.replace(
                    "\t", "\\t", regex=False
                )
                text = text.str.replace("\n", "\\n", regex=False)
        out[name] = text.where(col.notna(), "\\N")
    out.to_csv(path, sep="\t", header=False, index=False, lineterminator="\n", quoting=3)


def load(endpoint: Endpoint, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Recreate the schema on the primary and bulk-load every table."""
    from sqlalchemy import create_engine

    engine = create_engine(endpoint.sqlalchemy_url())
    metadata.drop_all(engine)
    metadata.create_all(engine)
    engine.dispose()
    counts: dict[str, int] = {}
    conn = endpoint.connect(local_infile=True)
    try:
        with tempfile.TemporaryDirectory(prefix="cardlake-seed-") as tmp, conn.cursor() as cur:
            for name in TABLE_ORDER:
                frame = tables[name]
                path = Path(tmp) / f"{name}.tsv"
                to_load_file(frame, path)
                cols = ", ".join(f"`{c}`" for c in frame.columns)
                cur.execute(
                    f"LOAD DATA LOCAL INFILE %s INTO TABLE `{name}` CHARACTER SET utf8mb4 "
                    f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' ({cols})",
                    (str(path),),
                )
                path.unlink()
                counts[name] = len(frame)
        conn.commit()
    finally:
        conn.close()
    return counts


def seed(endpoint: Endpoint, spec: SeedSpec) -> tuple[dict[str, int], float]:
    """Generate and load; returns row counts and elapsed seconds."""
    started = time.perf_counter()
    counts = load(endpoint, generate(spec))
    return counts, time.perf_counter() - started
