"""Deployment bundles: what a cloud scheduler needs to run the job (no cloud SDK here)."""
