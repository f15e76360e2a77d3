"""Alembic environment: batch mode for SQLite, the models' metadata as the target."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine, create_engine

from assessor.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("run migrations through 'assessor db upgrade'")
        engine = create_engine(url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if connection.dialect.name == "sqlite":
                _check_foreign_keys(connection)


def _check_foreign_keys(connection: Connection) -> None:
    """Refuse (roll back) a migration that left a row pointing at nothing: foreign keys are
    off while SQLite tables are copied (assessor/store/db.py, _migration_engine)."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise RuntimeError(
            f"migration left {len(broken)} row(s) without their parent "
            f"(first: {table} row {rowid} -> {parent}); rolled back"
        )


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
