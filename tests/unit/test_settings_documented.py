"""Every CARDLAKE_* variable the code reads is in the README, and `config show` hides secrets."""

from __future__ import annotations

import re

import pytest
import typer

from cardlake.cli import app
from etl.settings import ENV_PREFIX, Settings, effective_settings
from tests.support.session import REPO

README = (REPO / "README.md").read_text()


def _option_variables() -> set[str]:
    command = typer.main.get_command(app)
    found: set[str] = set()

    def walk(node: object) -> None:
        for param in getattr(node, "params", []):
            envvar = getattr(param, "envvar", None)
            if envvar:
                found.update([envvar] if isinstance(envvar, str) else envvar)
        for child in getattr(node, "commands", {}).values():
            walk(child)

    walk(command)
    return found


def test_every_setting_and_option_variable_is_documented() -> None:
    settings = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    options = _option_variables()
    assert len(options) >= 15
    undocumented = sorted(v for v in settings | options if f"`{v}`" not in README)
    assert undocumented == []
    assert all(v.startswith(ENV_PREFIX) for v in options)
    named = set(re.findall(r"`(CARDLAKE_[A-Z_]+)`", README))
    unknown = {
        v for v in named - settings - options if not v.startswith("CARDLAKE_LOOKER_TEMPLATE_")
    }
    assert unknown == set(), "the README names variables nothing reads"


def test_config_show_redacts_secrets_and_names_their_origin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARDLAKE_SOURCE_PASSWORD", "s3cret-typed-by-hand")
    rows = {variable: (value, origin) for variable, value, origin in effective_settings()}
    assert rows["CARDLAKE_SOURCE_PASSWORD"] == ("**********", "environment")
    assert "s3cret-typed-by-hand" not in repr(rows)
