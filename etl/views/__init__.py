"""KPI views: deployment to BigQuery and their fixture tests."""
