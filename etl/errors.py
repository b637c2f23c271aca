"""Errors that the CLI reports as one clear line instead of a traceback."""


class CardlakeError(Exception):
    """An expected failure with an actionable message for the operator."""
