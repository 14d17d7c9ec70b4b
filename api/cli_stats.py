"""`qc stats`: rebuild the statistics rollups from raw rows, or prove they match them."""

from zoneinfo import ZoneInfo

import typer

from api.db import get_engine, session_for
from api.settings import get_settings
from qc.rollup_rebuild import differences, rebuild

stats_app = typer.Typer(help="Defect statistics: their rollups.", no_args_is_help=True)


@stats_app.command("rebuild")
def rebuild_command(
    check: bool = typer.Option(
        False, "--check", help="Only compare the rollups with a recount; exit 1 if they differ."
    ),
) -> None:
    """Recompute the rollups from parcels, lines and defects (after a time zone change, say)."""
    zone = ZoneInfo(get_settings().timezone)
    with session_for(get_engine(), write=not check) as session:
        if check:
            found = differences(session, zone)
            if found:
                typer.echo(f"The rollups differ from a recount ({len(found)} shown):")
                for line in found:
                    typer.echo(f"  {line}")
                raise typer.Exit(1)
            typer.echo("The rollups match a recount from the raw rows.")
            return
        days, cells = rebuild(session, zone)
        session.commit()
    typer.echo(f"Rebuilt the rollups: {days} day(s), {cells} cell(s).")
