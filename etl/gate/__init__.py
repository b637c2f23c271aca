"""Checks before and after publishing: the data-quality gate and source reconciliation."""
