"""Glue-style job scripts (each runs under AWS Glue, spark-submit, or the cardlake CLI)."""
