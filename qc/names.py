"""Ids back to what people call them (a product's SKU, a user's name), in one query."""

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select


def names_of(session: Session, column: Any, ids: Iterable[int | None]) -> dict[int, str]:
    """`column` (say Product.sku) of the rows with these ids; None ids are left out."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    model = column.class_
    rows = session.exec(select(model.id, column).where(col(model.id).in_(wanted))).all()
    return {row_id: str(name) for row_id, name in rows}
