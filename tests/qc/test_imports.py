"""Bulk import: the same rules as the API, row by row, with exact line numbers."""

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from qc import imports
from qc.catalogue import get_product, product_out
from qc.errors import InvalidInput, NotFound
from qc.identity import authenticate
from qc.imports import ImportReport, Rejection
from qc.orders import find_order, order_out
from qc.parcels import open_parcel
from tests.factories import BODY, CABLE, CABLE_CASE, LID, MUG, MUG_UPC, make_product, make_world


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_products(session: Session, path: Path, fmt: str | None = None) -> ImportReport:
    return imports.import_products(session=session, rows=imports.product_rows(path, fmt=fmt))


def import_orders(session: Session, path: Path, fmt: str | None = None) -> ImportReport:
    return imports.import_orders(session=session, rows=imports.order_rows(path, fmt=fmt))


def rejected(report: ImportReport) -> list[tuple[tuple[int, ...], str | None, str]]:
    return sorted((r.lines, r.key, r.code) for r in report.rejected)


def test_products_csv_imports_good_rows_and_rejects_bad_ones(
    session: Session, tmp_path: Path
) -> None:
    make_product(session, sku="OTHER", barcodes=[CABLE])
    path = write(
        tmp_path,
        "products.csv",
        "sku,name,weight_g,barcodes,components,requires_serial,tracks_lot\n"
        "BIN,Storage bin,,,BODY*1|LID*2,,\n"  # line 2: a kit before its parts
        f"BODY,Bin body,900,{BODY},,no,\n"
        f"LID,Bin lid,300,{LID}|{CABLE_CASE}*6,,0,YES\n"
        "CHECK,Bad check digit,,4006381333932,,,\n"  # line 5
        "KIT2,Kit of nothing,,,GHOST*1,,\n"
        "BOOL,Bad boolean,,,,maybe,\n"
        f"QTY,Bad case pack,,{MUG}*0,,,\n"
        f"TAKEN,Somebody else's code,,{CABLE},,,\n",  # line 9
    )

    report = import_products(session, path)

    assert (report.created, report.updated) == (3, 0)
    assert rejected(report) == [
        ((5,), "CHECK", "invalid_barcode"),
        ((6,), "KIT2", "unknown_sku"),
        ((7,), "BOOL", "invalid_request"),
        ((8,), "QTY", "invalid_request"),
        ((9,), "TAKEN", "barcode_taken"),
    ]
    messages = {r.key: r.message for r in report.rejected}
    assert messages["KIT2"] == "unknown component SKU(s): GHOST"
    assert messages["QTY"] == "barcodes.0.pack_qty: Input should be greater than or equal to 1"
    assert messages["BOOL"].startswith("requires_serial: Input should be a valid boolean")
    assert messages["TAKEN"] == f"barcode {CABLE.zfill(14)} belongs to OTHER"
    kit = product_out(session, get_product(session, "BIN"))
    assert kit.is_kit
    assert [(c.sku, c.qty) for c in kit.components] == [("BODY", 1), ("LID", 2)]
    lid = product_out(session, get_product(session, "LID"))
    assert [(b.code, b.pack_qty) for b in lid.barcodes] == [(LID.zfill(14), 1), (CABLE_CASE, 6)]
    assert (lid.requires_serial, lid.tracks_lot, lid.weight_g) == (False, True, 300)


def test_a_rejected_row_leaves_nothing_behind(session: Session, tmp_path: Path) -> None:
    # upsert_product inserts the product before it finds the barcode taken: the savepoint undoes it.
    make_product(session, sku="MUG", barcodes=[MUG])
    path = write(tmp_path, "p.csv", f"sku,name,barcodes\nCOPY,Copy of the mug,{MUG}\nNEW,New,\n")

    report = import_products(session, path)

    assert rejected(report) == [((2,), "COPY", "barcode_taken")]
    assert report.created == 1
    with pytest.raises(NotFound):
        get_product(session, "COPY")


def test_products_jsonl_skips_blank_lines_and_reports_exact_lines(
    session: Session, tmp_path: Path
) -> None:
    rows = [
        {"sku": "BIN", "name": "Storage bin", "components": [{"sku": "BODY"}, {"sku": "LID"}]},
        {"sku": "BODY", "name": "Bin body", "weight_g": 900, "barcodes": [{"code": BODY}]},
        {"sku": "LID", "name": "Bin lid", "barcodes": [{"code": "04252614", "symbology": "upce"}]},
        {"sku": "COLOUR", "name": "Unknown key", "colour": "red"},
        {"sku": "bad sku!", "name": "Bad SKU"},
    ]
    lines = [json.dumps(rows[0]), "", json.dumps(rows[1]), json.dumps(rows[2]), "   "]
    lines += ['{"sku": "BROKEN", "name": ', json.dumps(rows[3]), "[1, 2]", json.dumps(rows[4])]
    path = write(tmp_path, "products.ndjson", "\n".join(lines) + "\n")

    report = import_products(session, path)

    assert report.created == 3
    assert rejected(report) == [
        ((6,), None, "invalid_json"),
        ((7,), "COLOUR", "invalid_request"),
        ((8,), None, "invalid_json"),
        ((9,), "bad sku!", "invalid_request"),
    ]
    messages = {r.lines[0]: r.message for r in report.rejected}
    assert messages[7] == "colour: Extra inputs are not permitted"
    assert messages[9].startswith("sku: String should match pattern")
    assert product_out(session, get_product(session, "LID")).barcodes[0].code == "00042100005264"
    assert get_product(session, "BIN").is_kit


def test_importing_again_updates(session: Session, tmp_path: Path) -> None:
    path = write(tmp_path, "p.jsonl", '{"sku": "MUG", "name": "Mug"}\n')
    assert import_products(session, path).created == 1
    path.write_text('{"sku": "MUG", "name": "Blue mug", "weight_g": 350}\n')

    report = import_products(session, path)

    assert (report.created, report.updated, report.rejected) == (0, 1, [])
    assert get_product(session, "MUG").name == "Blue mug"


def test_upc_a_and_its_ean13_spelling_are_one_barcode(session: Session, tmp_path: Path) -> None:
    make_product(session, sku="SOCKS", barcodes=[MUG_UPC])
    path = write(
        tmp_path,
        "p.csv",
        "sku,name,barcodes\n"
        f"OTHER,Other socks,0{MUG_UPC}\n"
        f"TWICE,Listed twice,{CABLE}|0000{CABLE}\n",
    )

    report = import_products(session, path)

    assert rejected(report) == [
        ((2,), "OTHER", "barcode_taken"),
        ((3,), "TWICE", "duplicate_barcode"),
    ]
    assert report.rejected[0].message == f"barcode 00{MUG_UPC} belongs to SOCKS"


def test_line_numbers_count_the_header_blank_lines_and_multiline_cells(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    text = (
        "\ufeffSKU, Name ,weight_g\r\n"  # a BOM and a spreadsheet's spelling of the header
        '"A","A product\r\nover two lines",1\r\n'
        "\r\n"
        ",,\r\n"
        "B,Too heavy,2000000\r\n"  # line 6
        "C,Short row\r\n"  # line 7
    )
    path.write_bytes(text.encode("utf-8"))

    report = import_products(session, path)

    assert report.created == 1
    assert rejected(report) == [((6,), "B", "invalid_request"), ((7,), None, "invalid_request")]
    assert report.rejected[1].message == "the row has 2 cells and the header 3"
    assert get_product(session, "A").name == "A product\r\nover two lines"


def test_orders_csv_groups_rows_of_one_number_wherever_they_are(
    session: Session, tmp_path: Path
) -> None:
    make_world(session)
    path = write(
        tmp_path,
        "orders.csv",
        "number,customer_ref,sku,qty\n"
        "2001,,MUG,1\n"
        "2002,CUST-9,TEA,1\n"
        "2001,CUST-1,CABLE,3\n"
        "#2001,CUST-2,MUG,2\n"  # the same order, as typed from a slip; only the first ref counts
        "2002,,BIN,1\n",
    )

    report = import_orders(session, path)

    assert (report.created, report.updated, report.rejected) == (2, 0, [])
    first = order_out(session, find_order(session, "2001"))
    assert first.customer_ref == "CUST-1"
    assert [(ln.sku, ln.qty) for ln in first.lines] == [("MUG", 3), ("CABLE", 3)]
    second = order_out(session, find_order(session, "2002"))
    assert [(ln.sku, ln.qty) for ln in second.lines] == [("TEA", 1), ("BIN", 1)]


def test_an_order_with_a_bad_line_is_rejected_whole_with_all_its_lines(
    session: Session, tmp_path: Path
) -> None:
    make_world(session)
    path = write(
        tmp_path,
        "orders.csv",
        "number,sku,qty\n"
        "3001,MUG,1\n"
        "3002,MUG,1\n"
        "3001,GHOST,1\n"  # line 4
        "3003,MUG,0\n"  # line 5
        "3003,TEA,1\n"
        ",MUG,1\n",  # line 7
    )

    report = import_orders(session, path)

    assert report.created == 1
    assert report.rejected == [
        Rejection((7,), None, "invalid_request", "number: String should have at least 1 character"),
        Rejection((2, 4), "3001", "unknown_sku", "unknown SKU(s): GHOST"),
        Rejection(
            (5, 6),
            "3003",
            "invalid_request",
            "line 5 qty: Input should be greater than or equal to 1",
        ),
    ]
    with pytest.raises(NotFound):
        find_order(session, "3001")


def test_orders_jsonl_and_an_order_being_packed(session: Session, tmp_path: Path) -> None:
    world = make_world(session)
    station = authenticate(session=session, key=world.keys["station"])
    open_parcel(session=session, station=station, order_code="1001", packer_badge="P-001")
    lines = [
        {"number": "4001", "customer_ref": "C-1", "lines": [{"sku": "MUG", "qty": 2}]},
        {"number": "1001", "lines": [{"sku": "MUG", "qty": 1}]},
        {"number": "1002", "lines": [{"sku": "TEA", "qty": 5}]},
        {"number": "4002", "lines": []},
    ]
    path = write(tmp_path, "orders.jsonl", "".join(json.dumps(line) + "\n" for line in lines))

    report = import_orders(session, path)

    assert (report.created, report.updated) == (1, 1)
    assert rejected(report) == [((2,), "1001", "order_locked"), ((4,), "4002", "invalid_request")]
    assert [(ln.sku, ln.qty) for ln in order_out(session, find_order(session, "1002")).lines] == [
        ("TEA", 5)
    ]


@pytest.mark.parametrize(
    ("name", "text", "fmt", "says"),
    [
        ("p.txt", "sku,name\n", None, "cannot tell the format of p.txt"),
        ("p.csv", "sku,name,colour,size\n", None, "unknown column(s) colour, size"),
        ("p.csv", "sku,weight_g\n", None, "missing column(s) name"),
        ("p.csv", "sku,name,sku\n", None, "repeated column(s) sku"),
        ("p.csv", "", None, "p.csv is empty"),
        ("p.data", "number,sku\n", "csv", "missing column(s) qty"),
        ("p.csv", "sku,name\n", "xml", "unknown format 'xml'"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_before_any_row(
    tmp_path: Path, name: str, text: str, fmt: str | None, says: str
) -> None:
    path = write(tmp_path, name, text)
    read = imports.order_rows if "number" in text else imports.product_rows
    with pytest.raises(InvalidInput) as caught:
        next(read(path, fmt=fmt))
    assert caught.value.code == "invalid_file"
    assert says in caught.value.message


def test_count_lines_checks_the_encoding(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"sku,name\nA,Caf\xc3\xa9\nB,Caf\xe9\n")
    with pytest.raises(InvalidInput, match=r"not UTF-8 text \(line 3\)"):
        imports.count_lines(path)
    path.write_bytes(b"sku,name\nA,Caf\xc3\xa9\nB,no newline at the end")
    assert imports.count_lines(path) == 3
    with pytest.raises(InvalidInput, match="cannot read"):
        imports.count_lines(tmp_path / "missing.csv")
