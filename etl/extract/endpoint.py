"""A MySQL-protocol endpoint (the read replica, or a local server) and how the ETL finds it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etl.errors import CardlakeError
from etl.settings import Settings, settings


@dataclass(frozen=True)
class Endpoint:
    """A MySQL-protocol endpoint and the login to use on it."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def __repr__(self) -> str:  # never print the password
        return f"Endpoint({self.user}@{self.host}:{self.port}/{self.database})"

    @property
    def display(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def connect(self, **options: Any) -> Any:
        """A pymysql connection to this endpoint (utf8mb4), with extra pymysql options."""
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database,
            charset="utf8mb4",
            **options,
        )

    def sqlalchemy_url(self) -> str:
        from sqlalchemy.engine import URL

        url = URL.create(
            "mysql+pymysql",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
            query={"charset": "utf8mb4"},
        )
        return url.render_as_string(hide_password=False)


def source_endpoint(current: Settings | None = None) -> Endpoint:
    """The replica the ETL reads: CARDLAKE_SOURCE_* (an Aurora reader, or the local stack's)."""
    current = current or settings()
    if not current.source_host:
        raise CardlakeError(
            "no source configured: set CARDLAKE_SOURCE_HOST and CARDLAKE_SOURCE_PASSWORD to the "
            "read replica, or start the local stack with `cardlake stack up`"
        )
    if current.source_password is None:
        raise CardlakeError("CARDLAKE_SOURCE_HOST is set but CARDLAKE_SOURCE_PASSWORD is not")
    return Endpoint(
        host=current.source_host,
        port=current.source_port,
        user=current.source_user,
        password=current.source_password.get_secret_value(),
        database=current.source_database,
    )
