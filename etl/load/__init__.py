"""Loading BigQuery: the client, raw table schemas, loads, ops tables and the audit trail."""
