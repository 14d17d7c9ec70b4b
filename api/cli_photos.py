"""`qc photos`: retention (purge photos past their time, unless held) and the orphan sweeper."""

from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

from api.db import get_engine, session_for
from api.settings import get_settings
from api.storage import make_store
from qc import photos
from qc.models import utcnow
from qc.photo_store import sweep

photos_app = typer.Typer(help="Parcel photos: retention and clean-up.", no_args_is_help=True)
out = Console(soft_wrap=True)


@photos_app.command("purge")
def purge(
    apply: Annotated[bool, typer.Option("--apply", help="Delete; without it, only count.")] = False,
    days: Annotated[
        int | None, typer.Option(min=1, help="Retention in days (default QC_PHOTO_RETENTION_DAYS).")
    ] = None,
) -> None:
    """Delete photos older than the retention period, except those of parcels under a hold.

    Rows are marked purged and committed first, then the files are deleted: a crash between
    the two leaves only orphan files, which `qc photos sweep` removes.
    """
    settings = get_settings()
    before = utcnow() - timedelta(days=days or settings.photo_retention_days)
    engine, store = get_engine(), make_store(settings)
    with session_for(engine, write=False) as session:
        due, held = photos.count_expired(session, before=before)
    out.print(f"{due} photo(s) taken before {before:%Y-%m-%d %H:%M} UTC are past retention; "
              f"{held} more are kept by evidence holds.")  # fmt: skip
    if not apply:
        out.print("Dry run: nothing deleted. Run with --apply to delete them.")
        return
    purged = files = 0
    while True:
        with session_for(engine, write=True) as session:
            batch = photos.expired_photos(session, before=before)
            if not batch:
                break
            keys = photos.mark_purged(session, batch, actor="cli:retention")
            session.commit()
            live = photos.live_keys(session, keys)
        for key in set(keys) - live:
            store.delete(key)
            files += 1
        purged += len(batch)
    out.print(f"Purged {purged} photo(s); deleted {files} file(s).")


@photos_app.command("sweep")
def sweep_orphans(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would go.")] = False,
) -> None:
    """Delete stored files no photo points to (left by an upload that never committed).

    Only files older than QC_PHOTO_SWEEP_GRACE_HOURS go: a younger one may belong to an
    upload whose row is being written right now.
    """
    settings = get_settings()
    older_than = utcnow() - timedelta(hours=settings.photo_sweep_grace_hours)
    store = make_store(settings)
    with session_for(get_engine(), write=False) as session:
        if dry_run:
            orphans = [k for k in store.list_keys(older_than=older_than)
                       if k not in photos.live_keys(session, [k])]  # fmt: skip
            out.print(f"{len(orphans)} orphan file(s) would be deleted.")
            return
        deleted = sweep(store, live=lambda keys: photos.live_keys(session, keys),
                        older_than=older_than)  # fmt: skip
    out.print(f"Deleted {len(deleted)} orphan file(s).")
