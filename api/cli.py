"""The `qc` command line. Every command reads the same QC_* settings as the server."""

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, select

from api.cli_decode import decode_command
from api.cli_import import import_app
from api.cli_photos import photos_app
from api.cli_stats import stats_app
from api.cli_webhooks import webhooks_app
from api.db import get_engine, session_for
from api.settings import get_settings
from qc import identity
from qc.demo import is_empty, load_demo
from qc.enums import Role
from qc.errors import QCError
from qc.models import Station, User

app = typer.Typer(help="Packing-station quality control.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
station_app = typer.Typer(help="Packing stations and their keys.", no_args_is_help=True)
user_app = typer.Typer(help="People, their roles and keys.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo warehouse.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(station_app, name="station")
app.add_typer(user_app, name="user")
app.add_typer(demo_app, name="demo")
app.add_typer(import_app, name="import")
app.add_typer(photos_app, name="photos")
app.add_typer(stats_app, name="stats")
app.add_typer(webhooks_app, name="webhooks")
app.command("decode")(decode_command)
err = Console(stderr=True)


@contextmanager
def transaction() -> Iterator[Session]:
    """One write transaction; a domain error is printed as a sentence and exits 1."""
    with session_for(get_engine(), write=True) as session:
        try:
            yield session
            session.commit()
        except QCError as exc:
            session.rollback()
            err.print(f"[red]error[/red] ({exc.code}): {exc.message}")
            raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: QC_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: QC_PORT")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (PostgreSQL; one per SQLite file).")
    ] = 1,
) -> None:
    """Serve the API (and /docs) with uvicorn."""
    from api.serve import serve as run

    settings = get_settings()
    status = run(
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level,
    )
    raise typer.Exit(status)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from api.migrate import upgrade

    settings = get_settings()
    if settings.db_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url, revision)


@db_app.command("current")
def db_current() -> None:
    """Print the revision the database is at."""
    from api.migrate import current

    current(get_settings().db_url)


@station_app.command("add")
def station_add(code: str) -> None:
    """Create a station; prints its key alone on standard output (shown once)."""
    with transaction() as session:
        _, key = identity.add_station(session=session, code=code)
    typer.echo(key)


@station_app.command("revoke")
def station_revoke(code: str) -> None:
    """Revoke every key of a station."""
    with transaction() as session:
        identity.revoke_station(session=session, code=code)
    err.print(f"station {code}: keys revoked")


@station_app.command("rotate")
def station_rotate(code: str) -> None:
    """Replace a station's key; prints the new key."""
    with transaction() as session:
        typer.echo(identity.rotate_key(session=session, station=code))


@station_app.command("list")
def station_list() -> None:
    """List stations."""
    with transaction() as session:
        rows = session.exec(select(Station).order_by(col(Station.code))).all()
    table = Table("code", "created", "revoked")
    for s in rows:
        table.add_row(
            s.code, f"{s.created_at:%Y-%m-%d}", f"{s.revoked_at:%Y-%m-%d}" if s.revoked_at else ""
        )
    Console().print(table)


@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[Role, typer.Option(help="packer, supervisor, manager, support or admin")],
    badge: Annotated[str | None, typer.Option(help="The badge code a packer scans.")] = None,
) -> None:
    """Create a user; prints their key alone on standard output (shown once)."""
    with transaction() as session:
        _, key = identity.add_user(session=session, name=name, role=role, badge=badge)
    typer.echo(key)


@user_app.command("revoke")
def user_revoke(name: str) -> None:
    """Revoke every key of a user; their badge can no longer open parcels."""
    with transaction() as session:
        identity.revoke_user(session=session, name=name)
    err.print(f"user {name}: keys revoked")


@user_app.command("rotate")
def user_rotate(name: str) -> None:
    """Replace a user's key; prints the new key."""
    with transaction() as session:
        typer.echo(identity.rotate_key(session=session, user=name))


@user_app.command("list")
def user_list() -> None:
    """List users."""
    with transaction() as session:
        rows = session.exec(select(User).order_by(col(User.name))).all()
    table = Table("name", "role", "badge", "revoked")
    for u in rows:
        table.add_row(
            u.name, u.role, u.badge or "", f"{u.revoked_at:%Y-%m-%d}" if u.revoked_at else ""
        )
    Console().print(table)


def _keys_file() -> Path:
    return get_settings().data_dir / "demo-keys.txt"


@demo_app.command("load")
def demo_load(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when products exist.")
    ] = False,
) -> None:
    """Load the demo catalogue, orders, bench and users; print their keys."""
    path = _keys_file()
    with transaction() as session:
        if not is_empty(session):
            if not if_empty:
                err.print("[red]error[/red]: the demo loads into an empty database only")
                raise typer.Exit(1)
            if path.exists():
                typer.echo(f"Demo keys (from {path.resolve()}):\n{path.read_text()}", err=True)
            return
        keys = load_demo(session)
    text = "".join(f"{who}: {key}\n" for who, key in keys.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    # Demo keys only: a real deployment issues keys with `qc station add` / `qc user add`.
    path.write_text(text)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    typer.echo(f"Demo loaded. Keys (also in {path.resolve()}):\n{text}", err=True)


def main() -> None:
    app()
