"""`qc decode`: one line per image, JSON as the contract says; unreadable files do not stop it."""

import json
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def write_code(path: Path, text: str, fmt: zxingcpp.BarcodeFormat) -> Path:
    image = np.array(zxingcpp.create_barcode(text, fmt).to_image(scale=4))
    cv2.imwrite(
        str(path), cv2.copyMakeBorder(image, 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=255)
    )
    return path


def test_json_lines_carry_codes_gtins_and_time(tmp_path: Path) -> None:
    ean = write_code(tmp_path / "mug.png", "4006381333931", zxingcpp.BarcodeFormat.EAN13)
    slip = write_code(tmp_path / "slip.jpg", "DEMO-1001", zxingcpp.BarcodeFormat.Code128)
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 300), 255, np.uint8))

    result = runner.invoke(app, ["decode", "--json", str(ean), str(slip), str(blank)])

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["path"] for line in lines] == [str(ean), str(slip), str(blank)]
    assert lines[0]["codes"] == [
        {"text": "4006381333931", "format": "EAN13", "gtin": "04006381333931"}
    ]
    assert lines[1]["codes"] == [{"text": "DEMO-1001", "format": "Code128", "gtin": None}]
    assert lines[2]["codes"] == []
    assert all(isinstance(line["ms"], float) and line["ms"] >= 0 for line in lines)


def test_unreadable_files_get_an_error_line_and_the_run_goes_on(tmp_path: Path) -> None:
    ean = write_code(tmp_path / "mug.png", "4006381333931", zxingcpp.BarcodeFormat.EAN13)
    not_image = tmp_path / "notes.png"
    not_image.write_text("not a picture")
    missing = tmp_path / "missing.png"

    result = runner.invoke(app, ["decode", "--json", str(missing), str(not_image), str(ean)])

    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[0] == {"path": str(missing), "error": "no such file"}
    assert lines[1] == {"path": str(not_image), "error": "not an image this tool can read"}
    assert lines[2]["codes"][0]["gtin"] == "04006381333931"


def test_plain_output_names_format_text_and_gtin(tmp_path: Path) -> None:
    ean = write_code(tmp_path / "mug.png", "4006381333931", zxingcpp.BarcodeFormat.EAN13)

    result = runner.invoke(app, ["decode", str(ean)])

    assert result.exit_code == 0
    assert result.output.startswith(f"{ean}: EAN13 '4006381333931' GTIN 04006381333931 (")
