"""BigQuery's credential configuration for a deployment: Workload Identity Federation only.

Kept apart from the client (etl.load.warehouse) so that the Glue bundle's builder, which the
CLI imports for its options, checks a configuration without importing the BigQuery client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etl.errors import CardlakeError


def read_federation_config(path: Path) -> dict[str, Any]:
    """A Workload Identity Federation credential configuration (type external_account).

    It names a pool, a provider and the AWS role to trade for a short-lived Google token,
    and holds no secret, so it may ship with the job. A service-account key file is a
    secret and is refused: keep it out of bundles and settings.
    """
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CardlakeError(
            f"credential configuration {path}: not readable as JSON ({type(exc).__name__})"
        ) from None
    kind = config.get("type") if isinstance(config, dict) else None
    if kind != "external_account":
        raise CardlakeError(
            f"credential configuration {path} is of type {kind!r}: cardlake takes a Workload "
            "Identity Federation configuration (type external_account, made with `gcloud iam "
            "workload-identity-pools create-cred-config ... --aws`), which holds no secret; "
            "a service-account key is a secret and is refused"
        )
    return dict(config)
