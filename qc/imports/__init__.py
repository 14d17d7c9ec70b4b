"""Bulk import of products and orders from CSV or JSON lines files."""

from qc.imports.apply import ImportReport, import_orders, import_products
from qc.imports.files import Rejection, count_lines, file_format
from qc.imports.rows import Row, order_rows, product_rows

__all__ = [
    "ImportReport",
    "Rejection",
    "Row",
    "count_lines",
    "file_format",
    "import_orders",
    "import_products",
    "order_rows",
    "product_rows",
]
