"""`qc import` run in process against the test database, committing for real."""

from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner, Result

import api.cli_import
from api import db
from api.cli import app
from qc.models import Barcode, Order, OrderLine, Product
from tests.factories import BODY, LID, MUG

runner = CliRunner()
PRODUCTS = (
    "sku,name,weight_g,barcodes,components\n"
    "BIN,Storage bin,,,BODY*1|LID*1\n"
    f"BODY,Bin body,900,{BODY},\n"
    f"LID,Bin lid,300,{LID},\n"
    f"MUG,Mug,350,{MUG},\n"
)


@pytest.fixture
def cli_engine(cli_env: Path, live_engine: Engine) -> Engine:
    return live_engine


def qc_import(*args: str, **env: str) -> Result:
    # A wide terminal, so that rejection messages are not wrapped mid-phrase.
    return runner.invoke(app, ["import", *args], env={"COLUMNS": "250", **env})


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def skus(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(Product.sku).order_by(col(Product.sku))))


def test_a_clean_file_imports_and_exits_0(cli_engine: Engine, tmp_path: Path) -> None:
    result = qc_import("products", str(write(tmp_path, "products.csv", PRODUCTS)))

    assert result.exit_code == 0, result.output
    assert "products: 4 created, 0 updated, 0 rejected" in result.stderr
    assert result.stdout == ""
    assert skus(cli_engine) == ["BIN", "BODY", "LID", "MUG"]

    again = qc_import("products", str(write(tmp_path, "products.csv", PRODUCTS)))
    assert again.exit_code == 0
    assert "products: 0 created, 4 updated, 0 rejected" in again.stderr


def test_rejected_rows_exit_1_and_the_rest_is_imported(cli_engine: Engine, tmp_path: Path) -> None:
    assert qc_import("products", str(write(tmp_path, "products.csv", PRODUCTS))).exit_code == 0
    orders = write(
        tmp_path,
        "orders.txt",
        '{"number": "1001", "customer_ref": "C-7", "lines": [{"sku": "MUG", "qty": 2}]}\n'
        '{"number": "1002", "lines": [{"sku": "GHOST", "qty": 1}]}\n'
        "\n"
        '{"number": "1003", "lines": [{"sku": "BIN", "qty": 1}, {"sku": "LID", "qty": 1}]}\n'
        "{not json}\n",
    )

    result = qc_import("orders", str(orders), "--format", "jsonl")

    assert result.exit_code == 1, result.output
    assert "orders: 2 created, 0 updated, 2 rejected" in result.stderr
    assert "unknown SKU(s): GHOST" in result.stderr
    assert "invalid_json" in result.stderr
    with Session(cli_engine) as session:
        numbers = session.exec(select(Order.number).order_by(col(Order.number))).all()
        assert numbers == ["1001", "1003"]
        assert session.exec(select(func.count()).select_from(OrderLine)).one() == 3


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("products.xlsx", PRODUCTS, "cannot tell the format of products.xlsx"),
        ("products.csv", "sku,title\nA,B\n", "unknown column(s) title; missing column(s) name"),
        ("products.csv", b"sku,name\nA,Caf\xe9\n", "products.csv is not UTF-8 text (line 2)"),
    ],
)
def test_a_file_that_cannot_be_imported_exits_2(
    cli_engine: Engine, tmp_path: Path, name: str, text: str | bytes, says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())

    result = qc_import("products", str(path))

    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash
    assert skus(cli_engine) == []


def test_a_missing_file_or_an_unknown_format_exits_2(cli_engine: Engine, tmp_path: Path) -> None:
    missing = qc_import("orders", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    assert "cannot read" in missing.stderr
    assert "No such file or directory" in missing.stderr

    unknown = qc_import(
        "orders", str(write(tmp_path, "o.csv", "number,sku,qty\n")), "--format", "xml"
    )
    assert unknown.exit_code == 2
    assert "xml" in unknown.stderr


# No wall-clock bound: upsert_product alone costs 4-10 ms a row on a 2-vCPU box, so this takes
# 10-25 s there and more under load. What keeps a big file cheap is checked instead: one commit
# per batch, not per row or per file.
@pytest.mark.slow
def test_two_thousand_products_import_in_batches(
    cli_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(
        f"SKU-{n:05d},Product {n},{n % 900},INT-{n:05d}|CASE-{n:05d}*12\n" for n in range(2000)
    )
    path = write(tmp_path, "many.csv", "sku,name,weight_g,barcodes\n" + rows)
    commits: list[object] = []
    event.listen(db.get_engine(), "commit", commits.append)

    # The file is below the size that earns a bar, and captured stderr is no terminal: draw it
    # anyway (TTY_COMPATIBLE is rich's switch), so that the bar's code runs too.
    monkeypatch.setattr(api.cli_import, "PROGRESS_FROM_BYTES", 0)
    result = qc_import("products", str(path), TTY_COMPATIBLE="1")

    assert result.exit_code == 0, result.output
    assert "products: 2000 created, 0 updated, 0 rejected" in result.stderr
    assert "importing products" in result.stderr
    assert len(commits) == 2000 // api.cli_import.BATCH_SIZE
    with Session(cli_engine) as session:
        assert session.exec(select(func.count()).select_from(Product)).one() == 2000
        assert session.exec(select(func.count()).select_from(Barcode)).one() == 4000
