"""Declared dashboards (YAML) and their offline HTML preview."""
