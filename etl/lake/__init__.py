"""The lake: Parquet snapshots, their published pointer, bookmarks and per-table leases."""
