"""Tokenization and PII policy for cardlake, driven by per-column classification."""
