"""Apply the alembic migrations; report whether a database is at head."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

__all__ = ["head_revision", "migrations_dir", "upgrade_to_head"]


def migrations_dir() -> Path:
    """The migrations folder: packaged beside the code, or at the repository root."""
    packaged = Path(__file__).resolve().parent.parent / "_migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "migrations"


def _alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", _sqlalchemy_url(database_url).replace("%", "%%"))
    return cfg


def _sqlalchemy_url(database_url: str) -> str:
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in {"postgres", "postgresql"}:
        raise ValueError("database URL must start with postgresql://")
    return f"postgresql+asyncpg://{rest}"


def head_revision() -> str:
    """The newest revision in the migrations folder."""
    script = ScriptDirectory.from_config(_alembic_config("postgresql://localhost/x"))
    head = script.get_current_head()
    assert head is not None
    return head


def _upgrade(database_url: str) -> None:
    command.upgrade(_alembic_config(database_url), "head")


async def upgrade_to_head(database_url: str) -> None:
    """Run ``alembic upgrade head`` (in a thread: alembic drives its own event loop)."""
    await asyncio.to_thread(_upgrade, database_url)
