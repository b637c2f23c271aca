"""cardlake ETL: Glue-style PySpark jobs from the read replica to masked Parquet and BigQuery."""
