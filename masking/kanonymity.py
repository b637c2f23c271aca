"""k-anonymity over the generalized quasi-identifiers of a masked table.

Every combination of quasi-identifier values must be shared by at least k rows (default
5). On a violation the job fails, or, when the manifest says ``on_violation: suppress``,
the quasi-identifiers of the rows in too-small classes are blanked (local suppression:
the rows, their keys and measures stay, so counts still reconcile with the source). The
report holds counts only, never values.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from etl.contracts.manifest import TableManifest
from etl.errors import Finding
from masking.policy import output_name

CLASS_SIZE = "_qi_class_size"


@dataclass(frozen=True)
class KAnonymityReport:
    table: str
    k: int
    quasi_identifiers: tuple[str, ...]
    rows: int
    classes: int
    smallest_class: int
    rows_below_k: int
    rows_suppressed: int

    @property
    def summary(self) -> str:
        return (
            f"{self.table}: k={self.k} over {', '.join(self.quasi_identifiers)}: {self.rows} rows in "
            f"{self.classes} classes, smallest {self.smallest_class}, {self.rows_below_k} rows "
            f"below k, {self.rows_suppressed} suppressed"
        )


def quasi_identifier_columns(manifest: TableManifest) -> list[str]:
    return [
        output_name(p)
        for p in manifest.columns.values()
        if p.klass == "quasi_identifier" and p.action in {"keep", "generalize"}
    ]


def _stats(df: DataFrame, qis: list[str], k: int) -> tuple[int, int, int, int]:
    sizes = df.groupBy(*qis).count()
    row = sizes.agg(
        F.coalesce(F.sum("count"), F.lit(0)),
        F.count(F.lit(1)),
        F.coalesce(F.min("count"), F.lit(0)),
        F.coalesce(F.sum(F.when(F.col("count") < k, F.col("count"))), F.lit(0)),
    ).first()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def with_k_anonymity(
    df: DataFrame, manifest: TableManifest
) -> tuple[DataFrame, KAnonymityReport | None]:
    qis = quasi_identifier_columns(manifest)
    if not qis:
        return df, None
    k = manifest.k_anonymity.k
    rows, classes, smallest, below = _stats(df, qis, k)
    suppressed = 0
    if below and manifest.k_anonymity.on_violation == "suppress":
        sized = df.withColumn(CLASS_SIZE, F.count(F.lit(1)).over(Window.partitionBy(*qis)))
        df = sized.select(
            *[
                F.when(F.col(CLASS_SIZE) >= k, F.col(c)).alias(c) if c in qis else F.col(c)
                for c in df.columns
            ]
        )
        suppressed = below
        rows, classes, smallest, below = _stats(df, qis, k)
    report = KAnonymityReport(
        manifest.table, k, tuple(qis), rows, classes, smallest, below, suppressed
    )
    if below:
        raise Finding(
            f"k-anonymity gate failed: {report.summary}. Generalize further in "
            f"{manifest.path} or set k_anonymity.on_violation: suppress"
        )
    return df, report
