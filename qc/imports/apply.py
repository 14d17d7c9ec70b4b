"""Applying validated rows: each product or order under its own savepoint, never a commit.

Reading and applying are separate steps so that the caller owns the transactions:
`product_rows()` / `order_rows()` stream a file into validated rows (or rejections), and the
caller feeds them in batches to `import_products()` / `import_orders()`, committing after each
batch. Rows are checked with the API's own models and services, so the rules are the same.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from qc.catalogue import upsert_product
from qc.errors import QCError
from qc.imports.files import Rejection
from qc.imports.rows import D, Row
from qc.orders import upsert_order
from qc.schemas import OrderIn, ProductIn


@dataclass
class ImportReport:
    """What an import (or one batch of it) did."""

    created: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def add(self, other: "ImportReport") -> None:
        self.created += other.created
        self.updated += other.updated
        self.rejected.extend(other.rejected)


def import_products(
    *, session: Session, rows: Iterable[Row[ProductIn] | Rejection]
) -> ImportReport:
    """Create or replace each product of a batch, each under its own savepoint; no commit.

    Returns:
        What was created, updated and rejected, the rejections passed in included.
    """
    return _apply(
        session, rows, lambda row: upsert_product(session=session, sku=row.key, data=row.data)[1]
    )


def import_orders(*, session: Session, rows: Iterable[Row[OrderIn] | Rejection]) -> ImportReport:
    """Create or replace each order of a batch, each under its own savepoint; no commit.

    Returns:
        What was created, updated and rejected, the rejections passed in included.
    """
    return _apply(
        session, rows, lambda row: upsert_order(session=session, number=row.key, data=row.data)[1]
    )


def _apply(
    session: Session, rows: Iterable[Row[D] | Rejection], upsert: Callable[[Row[D]], bool]
) -> ImportReport:
    report = ImportReport()
    for row in rows:
        if isinstance(row, Rejection):
            report.rejected.append(row)
            continue
        try:
            with session.begin_nested():
                created = upsert(row)
        except QCError as exc:
            report.rejected.append(Rejection(row.lines, row.key, exc.code, exc.message))
            continue
        except IntegrityError as exc:
            # Only a concurrent writer gets here (the services check first): skip the row alone.
            reason = str(exc.orig).splitlines()[0] if exc.orig else "integrity error"
            report.rejected.append(
                Rejection(row.lines, row.key, "conflict", f"the database refused it: {reason}")
            )
            continue
        if created:
            report.created += 1
        else:
            report.updated += 1
    return report
