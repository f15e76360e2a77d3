"""``assessor db``: the schema revision of the store, and upgrading it."""

from __future__ import annotations

import typer

from assessor.cli._common import DB_OPTION, setting

app = typer.Typer(help="The assessment database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(db: str = DB_OPTION) -> None:
    """Upgrade the database schema to this version's head (creating it when empty)."""
    from assessor.store.db import _describe, database_url, make_engine
    from assessor.store.db import upgrade as do_upgrade

    url = database_url(setting(db, "db"))
    engine = make_engine(url)
    try:
        before, after = do_upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"{_describe(url)}: already at {after}")
    else:
        typer.echo(f"{_describe(url)}: upgraded {before or 'empty'} -> {after}")


@app.command("current")
def current(db: str = DB_OPTION) -> None:
    """Print the database's schema revision and this version's head."""
    from assessor.store.db import HEAD, _describe, current_revision, database_url, make_engine

    url = database_url(setting(db, "db"))
    engine = make_engine(url)
    try:
        rev = current_revision(engine)
    finally:
        engine.dispose()
    state = (
        "up to date" if rev == HEAD else ("empty" if rev is None else "needs 'assessor db upgrade'")
    )
    typer.echo(f"{_describe(url)}: revision {rev or '-'} (head {HEAD}, {state})")
