"""The card issuer's operational schema, as the member app writes it on the primary.

Money is DECIMAL, ids are BIGINT UNSIGNED, times are DATETIME(6) holding UTC.
"""

from __future__ import annotations

from sqlalchemy import CHAR, DATE, Column, MetaData, String, Table, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.mysql import BIGINT, DATETIME, DECIMAL, SMALLINT, TINYINT

from etl.contracts.manifest import TABLES
from etl.errors import CardlakeError


def _id(name: str, primary_key: bool = False, nullable: bool = False) -> Column:
    return Column(
        name,
        BIGINT(unsigned=True),
        primary_key=primary_key,
        autoincrement=False,
        nullable=nullable,
    )


def _money(name: str, nullable: bool = False) -> Column:
    return Column(name, DECIMAL(18, 2), nullable=nullable)


def _ts(name: str, nullable: bool = False) -> Column:
    return Column(name, DATETIME(fsp=6), nullable=nullable)


def _audit() -> list[Column]:
    updated_at = _ts("updated_at")
    updated_at.index = True  # the incremental cursor
    return [_ts("created_at"), updated_at]


metadata = MetaData()

support_targets = Table(
    "support_targets",
    metadata,
    _id("support_target_id", primary_key=True),
    Column("name", String(100), nullable=False),
    Column("category", String(20), nullable=False),
    Column("contribution_rate", DECIMAL(5, 4), nullable=False),
    *_audit(),
)

card_designs = Table(
    "card_designs",
    metadata,
    _id("card_design_id", primary_key=True),
    Column("name", String(100), nullable=False),
    Column("brand", String(20), nullable=False),
    _id("support_target_id", nullable=True),
    _money("annual_fee"),
    *_audit(),
)

members = Table(
    "members",
    metadata,
    _id("member_id", primary_key=True),
    Column("full_name", String(100), nullable=False),
    Column("full_name_kana", String(100), nullable=False),
    Column("email", String(255), nullable=False),
    Column("phone", String(20)),
    Column("birth_date", DATE, nullable=False),
    Column("gender", CHAR(1)),
    Column("postal_code", CHAR(8), nullable=False),
    Column("prefecture", String(10), nullable=False),
    Column("address_line", String(255), nullable=False),
    *_audit(),
)

applications = Table(
    "applications",
    metadata,
    _id("application_id", primary_key=True),
    _id("member_id"),
    _id("requested_card_design_id"),
    Column("channel", String(10), nullable=False),
    Column("employment_type", String(20), nullable=False),
    _money("annual_income"),
    _ts("applied_at"),
    Column("status", String(10), nullable=False),
    _ts("decided_at", nullable=True),
    _money("credit_limit", nullable=True),
    Column("rejection_reason", String(50)),
    *_audit(),
)

cards = Table(
    "cards",
    metadata,
    _id("card_id", primary_key=True),
    _id("member_id"),
    _id("application_id"),
    _id("card_design_id"),
    Column("pan", String(19), nullable=False),
    Column("cvv", CHAR(3), nullable=False),
    Column("expiry_month", TINYINT(unsigned=True), nullable=False),
    Column("expiry_year", SMALLINT(unsigned=True), nullable=False),
    Column("status", String(10), nullable=False),
    _ts("issued_at"),
    _ts("activated_at", nullable=True),
    *_audit(),
)

transactions = Table(
    "transactions",
    metadata,
    _id("transaction_id", primary_key=True),
    _id("card_id"),
    _id("member_id"),
    Column("txn_type", String(15), nullable=False),
    _money("amount"),
    Column("currency", CHAR(3), nullable=False),
    Column("merchant_name", String(100), nullable=False),
    Column("mcc", CHAR(4), nullable=False),
    Column("memo", Text),
    _ts("transacted_at"),
    *_audit(),
)

statements = Table(
    "statements",
    metadata,
    _id("statement_id", primary_key=True),
    _id("card_id"),
    _id("member_id"),
    Column("statement_month", DATE, nullable=False),
    Column("closing_date", DATE, nullable=False),
    Column("due_date", DATE, nullable=False),
    _money("billed_amount"),
    _money("minimum_due"),
    *_audit(),
)

repayments = Table(
    "repayments",
    metadata,
    _id("repayment_id", primary_key=True),
    _id("statement_id"),
    _id("member_id"),
    Column("channel", String(25), nullable=False),
    Column("store_chain", String(30)),
    _money("amount"),
    _ts("paid_at"),
    *_audit(),
)

# Dependency order: a table appears after every table it refers to.
TABLE_ORDER = list(TABLES)


def source_types(table: str) -> dict[str, str]:
    """Column types of the modelled source schema, as MySQL DDL (etl.load.raw_tables.SourceTypes)."""
    if table not in metadata.tables:
        raise CardlakeError(f"table {table!r} is not in the source schema model")
    dialect = mysql.dialect()
    return {c.name: c.type.compile(dialect=dialect) for c in metadata.tables[table].columns}
