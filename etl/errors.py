"""Errors that the CLI reports as one clear line instead of a traceback."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


class CardlakeError(Exception):
    """An expected failure with an actionable message for the operator: bad usage or a
    broken environment (the CLI exits 2)."""


# Exit codes: 0 success, 1 a finding in the data, 2 bad usage or a broken environment
# (argparse's own usage errors exit 2 as well).
EXIT_FINDING, EXIT_ERROR, EXIT_INTERRUPTED = 1, 2, 130


def run_reporting_errors(work: Callable[[], object]) -> int:
    """Run a command; an expected failure becomes one `cardlake: error:` line and its exit
    code, never a traceback (the CLI and the spark-submit/Glue job entry share this)."""
    from google.api_core.exceptions import GoogleAPICallError

    try:
        work()
    except CardlakeError as exc:
        print(f"cardlake: error: {exc}", file=sys.stderr)
        return EXIT_FINDING if isinstance(exc, Finding) else EXIT_ERROR
    except GoogleAPICallError as exc:
        first_line = (exc.message or type(exc).__name__).strip().splitlines()[0]
        print(f"cardlake: error: BigQuery: {first_line}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("cardlake: interrupted; published outputs are unchanged", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def optional_sdk(module: str, extra: str, purpose: str) -> Any:
    """A cloud SDK that only some deployments need, or one clear line naming its extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise CardlakeError(
            f"{purpose} needs {module}, which is not installed: pip install 'cardlake[{extra}]'"
        ) from None


class Finding(CardlakeError):
    """A check found something wrong in the data: a PAN, a failed gate, a failed view
    fixture (the CLI exits 1, so scripts can tell findings from a broken environment)."""
