"""The BigQuery views (one file per view) and their fixture tests, shipped as package data."""
