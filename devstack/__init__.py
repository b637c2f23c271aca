"""The local dev stack: MariaDB primary + replica, the BigQuery emulator, the seeder.

Never imported by production code (etl, masking, dashboards); the CLI, tests and the bench
use it. It hands its endpoints to production code through settings (env files).
"""
