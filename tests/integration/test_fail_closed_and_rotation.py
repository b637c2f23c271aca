"""Fail-closed classification and key rotation, on the real replica with real Spark."""

from __future__ import annotations

import copy
import hashlib
import hmac
import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from devstack import stack
from etl.contracts.manifest import MANIFEST_DIR
from etl.errors import CardlakeError
from etl.lake.snapshot import current
from etl.pipeline import extract_and_publish
from masking.keys import DocumentKeyProvider, new_key_document, rotate
from tests.support.runs import run_context

pytestmark = [pytest.mark.stack, pytest.mark.spark]


def _on_primary(sql: str) -> list[tuple]:
    rows = stack.execute("primary", "app", sql)
    stack.wait_for_replica()
    return rows


def test_new_source_column_stops_the_job_until_classified(
    spark: SparkSession,
    seeded: dict[str, int],
    tmp_path: Path,
    test_keys: DocumentKeyProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lake = tmp_path / "lake"
    first = extract_and_publish(run_context(spark, lake, test_keys, "run1"), "support_targets")
    _on_primary("ALTER TABLE support_targets ADD COLUMN fan_club_email VARCHAR(255)")
    try:
        with pytest.raises(CardlakeError) as err:
            extract_and_publish(run_context(spark, lake, test_keys, "run2"), "support_targets")
        assert "support_targets.fan_club_email" in str(err.value)
        assert "add `fan_club_email: <class>`" in str(err.value)
        assert current(lake, "support_targets") == first.snapshot, "nothing was published"
        assert not (lake / "support_targets" / "runs" / "run2").exists(), "no row was read"

        manifests = tmp_path / "manifests"
        shutil.copytree(MANIFEST_DIR, manifests)
        path = manifests / "support_targets.yaml"
        path.write_text(
            path.read_text().replace(
                "  updated_at: attribute\n",
                "  updated_at: attribute\n"
                "  fan_club_email: {class: direct_identifier, normalize: email}\n",
            )
        )
        monkeypatch.setenv("CARDLAKE_MANIFEST_DIR", str(manifests))
        second = extract_and_publish(run_context(spark, lake, test_keys, "run3"), "support_targets")
        assert "fan_club_email_token" in spark.read.parquet(second.snapshot.path).columns
        assert current(lake, "support_targets") == second.snapshot
    finally:
        _on_primary("ALTER TABLE support_targets DROP COLUMN fan_club_email")


def test_rotation_drill_reissues_every_token_with_the_new_version(
    spark: SparkSession, seeded: dict[str, int], tmp_path: Path
) -> None:
    document = new_key_document(dev_only=True)
    lake = tmp_path / "lake"
    v1 = DocumentKeyProvider(copy.deepcopy(document), "drill-v1")
    before = extract_and_publish(run_context(spark, lake, v1, "run_v1"), "cards")
    assert rotate(document, "pan") == 2
    v2 = DocumentKeyProvider(document, "drill-v2")
    after = extract_and_publish(run_context(spark, lake, v2, "run_v2"), "cards")

    pans = {int(card_id): pan for card_id, pan in _on_primary("SELECT card_id, pan FROM cards")}
    old = {int(r.card_id): r.pan_token for r in spark.read.parquet(before.snapshot.path).collect()}
    new_key = v2.current("pan")
    rows = spark.read.parquet(after.snapshot.path).collect()
    assert {r.pan_token_key_version for r in rows} == {2}
    for r in rows:
        assert (
            r.pan_token
            == hmac.new(new_key.material, pans[int(r.card_id)].encode(), hashlib.sha256).digest()
        )
        assert r.pan_token != old[int(r.card_id)]
