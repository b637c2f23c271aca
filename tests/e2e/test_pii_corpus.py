"""The adversarial corpus (tests/support/pii_corpus.py) as memos in the test source, run
through the installed `cardlake` CLI: no PAN, e-mail or phone number is left in any string
of the Parquet snapshot or of the warehouse table, by an independent detector."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from devstack import stack
from etl.load import warehouse
from etl.settings import warehouse_settings
from masking.keys import DocumentKeyProvider
from tests.support import pii_corpus
from tests.support.cli import run_cardlake

pytestmark = [pytest.mark.stack, pytest.mark.spark, pytest.mark.warehouse]


@pytest.fixture()
def corpus_memos(seeded: dict[str, int]) -> Iterator[dict[int, str]]:
    """The corpus written into the memos of as many transactions; put back afterwards."""
    texts = pii_corpus.build().all
    rows = stack.execute(
        "primary",
        "app",
        "SELECT transaction_id, memo, updated_at FROM transactions ORDER BY transaction_id "
        "LIMIT %s",
        (len(texts),),
    )
    assert len(rows) == len(texts)
    try:
        # One transaction each way: 406 commits one by one took ~20 s.
        stack.execute_many(
            "primary",
            "app",
            "UPDATE transactions SET memo = %s WHERE transaction_id = %s",
            [(text, r[0]) for r, text in zip(rows, texts, strict=True)],
        )
        stack.wait_for_replica()
        yield {int(r[0]): text for r, text in zip(rows, texts, strict=True)}
    finally:
        stack.execute_many(
            "primary",
            "app",
            "UPDATE transactions SET memo = %s, updated_at = %s WHERE transaction_id = %s",
            [(memo, updated_at, transaction_id) for transaction_id, memo, updated_at in rows],
        )
        stack.wait_for_replica()


def _strings(table: pa.Table) -> Iterator[tuple[int, str, str]]:
    ids = [int(v) for v in table.column("transaction_id").to_pylist()]
    for name in table.column_names:
        if pa.types.is_string(table.schema.field(name).type):
            for transaction_id, value in zip(ids, table.column(name).to_pylist(), strict=True):
                if value is not None:
                    yield transaction_id, name, value


def test_no_corpus_pan_email_or_phone_reaches_parquet_or_the_warehouse(
    corpus_memos: dict[int, str],
    bq_emulator: str,
    test_keys: DocumentKeyProvider,
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "CARDLAKE_LAKE": str(tmp_path / "lake"),
        "CARDLAKE_BOOKMARKS": str(tmp_path / "bookmarks"),
        "CARDLAKE_BQ_DATASET_PREFIX": "corpus_",
        "CARDLAKE_KEY_PROVIDER": "env",
        "CARDLAKE_KEYS": test_keys.as_env_value(),
    }
    run_cardlake("run", "--table", "transactions", "--full-refresh", env=env)
    assert "no Luhn-valid PAN" in run_cardlake("scan", env=env).stdout

    parquet = ds.dataset(str(tmp_path / "lake" / "transactions" / "runs"), format="parquet")
    settings = warehouse_settings().with_dataset_prefix("corpus_")
    bq = warehouse.client(settings)
    table_id = f"{settings.project}.{settings.raw_dataset}.transactions"
    warehouse_rows = bq.query(f"SELECT * FROM `{table_id}`").to_arrow(create_bqstorage_client=False)
    outputs = {"parquet": parquet.to_table(), "warehouse": warehouse_rows}

    corpus = pii_corpus.build()
    negatives = set(corpus.negatives)
    for where, table in outputs.items():
        memos = {}
        hits = []
        for transaction_id, column, value in _strings(table):
            if column == "memo":
                memos[transaction_id] = value
            found = pii_corpus.findings(value)
            if found:
                hits.append((where, column, transaction_id, found))  # ids and kinds, no values
        assert hits == []
        assert all(memos[i] != t for i, t in corpus_memos.items() if t not in negatives)
        redacted = sum(memos[i] != t for i, t in corpus_memos.items() if t in negatives)
        share = redacted / len(negatives)
        print(f"{where}: {redacted}/{len(negatives)} negatives redacted ({share:.1%})")
        # Only the look-alikes the rules allow: Luhn-valid JAN codes, 0-leading 10-11 digits.
        assert share < 0.15
