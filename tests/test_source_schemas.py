"""The recorded schemas of external Parquet sources: reused while the files are unchanged, missed otherwise."""

from __future__ import annotations

import os

from sparkmodels.execute.source_schemas import SourceSchemas, listing_digest


def test_schema_reused_only_for_the_same_files(spark, tmp_path):
    src = tmp_path / "src"
    spark.range(5).selectExpr("id", "cast(id as string) as s").write.parquet(str(src / "month=1"))
    schemas = SourceSchemas(tmp_path / "warehouse")
    digest, known = schemas.lookup(str(src))
    assert digest is not None and known is None  # first read: Spark infers
    inferred = spark.read.parquet(str(src)).schema
    schemas.record(str(src), digest, inferred)
    again, known = schemas.lookup(str(src))
    assert again == digest and known == inferred  # partition column month included, as inferred
    # a new partition folder (linked, as a month 'arriving'): the listing differs, Spark infers again
    spark.range(3).selectExpr("id", "cast(id as string) as s").write.parquet(str(tmp_path / "stage" / "month=2"))
    os.symlink(tmp_path / "stage" / "month=2", src / "month=2")
    moved, known = schemas.lookup(str(src))
    assert moved != digest and known is None
    assert listing_digest(str(tmp_path / "missing")) is None
    assert SourceSchemas(None).lookup(str(src)) == (None, None)
