"""`qc import`: products and orders from CSV or JSON lines files, committed in batches.

Exit codes: 0 every row imported; 1 some rows rejected (the others are imported);
2 the file cannot be imported at all (unreadable, unknown format, bad header).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.db import get_engine, session_for
from qc import imports
from qc.errors import QCError
from qc.imports import ImportReport, Rejection, Row

import_app = typer.Typer(help="Bulk import from CSV or JSON lines files.", no_args_is_help=True)

# One transaction per batch: big enough to be quick, small enough that a long import neither
# holds one huge transaction nor keeps SQLite's write lock from the API for long.
BATCH_SIZE = 500
PROGRESS_FROM_BYTES = 1 << 20  # smaller files are done before a bar would be worth drawing
SHOWN_REJECTIONS = 1000

Reader = Callable[..., Iterator[Row[Any] | Rejection]]
Applier = Callable[..., ImportReport]


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


FileArg = Annotated[
    Path, typer.Argument(help="A .csv, .jsonl or .ndjson file.", show_default=False)
]
FormatOpt = Annotated[
    FileFormat | None,
    typer.Option("--format", help="Default: from the file's extension.", show_default=False),
]


@import_app.command("products")
def products(file: FileArg, fmt: FormatOpt = None) -> None:
    """Create or replace products and kits (a kit may come before its parts in the file).

    CSV: sku,name,weight_g,barcodes,components,requires_serial,tracks_lot (sku, name required).

    Barcodes as CODE or CODE*PACK_QTY, components as SKU*QTY, several separated by |.

    JSON lines: a PUT /products/{sku} body per line, plus "sku".
    """
    _run("products", file, fmt, imports.product_rows, imports.import_products)


@import_app.command("orders")
def orders(file: FileArg, fmt: FormatOpt = None) -> None:
    """Create or replace orders that are not being packed yet.

    CSV: number,customer_ref,sku,qty, a row per order line; the rows of one number make one
    order wherever they are in the file.

    JSON lines: {"number", "customer_ref", "lines": [{"sku", "qty"}]} per line.
    """
    _run("orders", file, fmt, imports.order_rows, imports.import_orders)


def _run(what: str, path: Path, fmt: FileFormat | None, read: Reader, apply: Applier) -> None:
    # A console per run, so that it sees the terminal (and COLUMNS) of this invocation.
    err = Console(stderr=True)
    report = ImportReport()
    try:
        chosen = imports.file_format(path, fmt.value if fmt else None)
        total = imports.count_lines(path) - (1 if chosen == "csv" else 0)
        rows = read(path, fmt=chosen)
        hidden = path.stat().st_size < PROGRESS_FROM_BYTES
        with _progress(err, what, total, hidden=hidden) as advance:
            while batch := list(islice(rows, BATCH_SIZE)):
                with session_for(get_engine(), write=True) as session:
                    report.add(apply(session=session, rows=batch))
                    session.commit()
                advance(sum(len(item.lines) for item in batch))
    except (QCError, OSError) as exc:
        # The services catch each row's errors, so what arrives here is about the whole file.
        message = exc.message if isinstance(exc, QCError) else f"cannot read {path}: {exc}"
        err.print(f"[red]error[/red]: {message}", highlight=False)
        if report.created or report.updated or report.rejected:
            _print_report(err, what, report, note=" before the error")
        raise typer.Exit(2) from None
    _print_report(err, what, report)
    raise typer.Exit(1 if report.rejected else 0)


@contextmanager
def _progress(
    console: Console, what: str, total: int, *, hidden: bool
) -> Iterator[Callable[[int], None]]:
    """A transient bar on stderr counting rows; call the function given when n more are done."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    # Not drawn into a pipe or a log file, where a bar is only noise.
    bar = Progress(
        *columns, console=console, transient=True, disable=hidden or not console.is_terminal
    )
    task = bar.add_task(f"importing {what}", total=max(total, 1))
    with bar:
        yield lambda done: bar.advance(task, done)


def _print_report(err: Console, what: str, report: ImportReport, note: str = "") -> None:
    err.print(
        f"{what}{note}: {report.created} created, {report.updated} updated, "
        f"{len(report.rejected)} rejected",
        highlight=False,
    )
    if not report.rejected:
        return
    table = Table("line", "key", "code", "message", title="Rejected rows")
    rejected = sorted(report.rejected, key=lambda r: r.lines)
    for r in rejected[:SHOWN_REJECTIONS]:
        table.add_row(", ".join(map(str, r.lines)), r.key or "", r.code, r.message)
    err.print(table)
    if len(rejected) > SHOWN_REJECTIONS:
        err.print(f"… and {len(rejected) - SHOWN_REJECTIONS} more rejected rows not shown")
