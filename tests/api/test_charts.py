"""The SVG charts: well-formed XML, out-of-control points marked, data escaped, empty data;
and their endpoints, on the real statistics."""

import itertools
import math
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.charts import date_label, line_chart_with_limits, nice_step, pareto_chart
from tests.api.test_packing import close, open_parcel, scan
from tests.factories import CABLE, MUG, World, make_world

SVG = "{http://www.w3.org/2000/svg}"


def p_chart_rows(counts: list[tuple[int, int]]) -> list[dict[str, object]]:
    """Defect-rate rows for (defective, parcels) a day, with p-chart limits as the API has them."""
    pbar = sum(d for d, _ in counts) / sum(n for _, n in counts)
    rows: list[dict[str, object]] = []
    for day, (defective, parcels) in enumerate(counts, start=1):
        sigma = 3 * math.sqrt(pbar * (1 - pbar) / parcels)
        rate = defective / parcels
        lower, upper = max(0.0, pbar - sigma), min(1.0, pbar + sigma)
        rows.append(
            {
                "key": f"2026-11-{day:02d}",
                "parcels": parcels,
                "defective_parcels": defective,
                "defects": defective,
                "rate": rate,
                "center": pbar,
                "lower": lower,
                "upper": upper,
                "out_of_control": not lower <= rate <= upper,
            }
        )
    return rows


def pareto_rows(counts: list[tuple[str, int]]) -> list[dict[str, object]]:
    total, running, rows = sum(c for _, c in counts), 0, []
    for key, defects in counts:
        running += defects
        rows.append(
            {
                "key": key,
                "defects": defects,
                "share": defects / total,
                "cumulative_share": running / total,
            }
        )
    return rows


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is well-formed
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == "100%"
    assert len((root.get("viewBox") or "").split()) == 4
    assert root.get("role") == "img"
    return root


def points(root: ET.Element) -> list[ET.Element]:
    return [c for c in root.iter(f"{SVG}circle") if "point" in (c.get("class") or "").split()]


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_a_p_chart_marks_the_out_of_control_day() -> None:
    counts = [(2, 50)] * 9 + [(20, 50)] + [(2, 50)] * 4
    rows = p_chart_rows(counts)
    assert [r["out_of_control"] for r in rows].count(True) == 1

    root = parse(line_chart_with_limits(rows, title="Defect rate per day"))

    assert root.get("aria-label") == "Defect rate per day"
    assert root.findtext(f"{SVG}title") == "Defect rate per day"
    drawn = points(root)
    assert len(drawn) == 14
    bad = [p for p in drawn if "ooc" in (p.get("class") or "")]
    assert [p.get("data-key") for p in bad] == ["2026-11-10"]
    assert float(bad[0].get("r") or 0) > float(drawn[0].get("r") or 0)
    assert bad[0].get("fill") != drawn[0].get("fill")
    assert "out of control" in (bad[0].findtext(f"{SVG}title") or "")
    # The rate line, the dashed centre line and both limits are there
    classes = {e.get("class") for e in root.iter() if e.get("class")}
    assert {"rate", "center", "limit upper", "limit lower"} <= classes
    assert root.find(".//*[@class='center']").get("stroke-dasharray")  # type: ignore[union-attr]


def test_percent_ticks_and_thinned_date_labels() -> None:
    rows = p_chart_rows([(3, 100)] * 90)
    root = parse(line_chart_with_limits(rows, title="90 days"))
    labels = texts(root)
    ticks = [t for t in labels if t.endswith(" %")]
    assert ticks[0] == "0 %" and len(ticks) >= 3
    dates = [e for e in root.iter(f"{SVG}text") if e.get("class") == "x-label"]
    # Fewer labels than days, each far enough from the next to be read
    assert 3 <= len(dates) < 90
    xs = [float(e.get("x") or 0) for e in dates]
    assert min(b - a for a, b in itertools.pairwise(xs)) >= 60
    assert dates[0].text == "1 Nov"


def test_a_day_without_parcels_is_a_gap() -> None:
    rows = p_chart_rows([(2, 40), (1, 40), (3, 40), (2, 40)])
    rows[1].update(parcels=0, defective_parcels=0, rate=None, lower=None, upper=None)
    root = parse(line_chart_with_limits(rows, title="With a quiet day"))
    assert [p.get("data-key") for p in points(root)] == ["2026-11-01", "2026-11-03", "2026-11-04"]
    rate = root.find(".//*[@class='rate']")
    assert rate is not None and (rate.get("d") or "").count("M") == 2
    upper = root.find(".//*[@class='limit upper']")
    assert upper is not None and (upper.get("d") or "").count("M") == 2


def test_days_without_any_parcel_say_there_is_no_data() -> None:
    rows = p_chart_rows([(1, 40)])
    rows[0].update(rate=None, center=None, lower=None, upper=None)
    root = parse(line_chart_with_limits(rows, title="Nothing closed"))
    assert points(root) == []
    assert "No data for this period" in texts(root)


def test_one_row_draws_one_point() -> None:
    rows = p_chart_rows([(1, 20)])
    root = parse(line_chart_with_limits(rows, title="One day"))
    assert len(points(root)) == 1
    assert root.get("data-rows") == "1"


@pytest.mark.parametrize("chart", [line_chart_with_limits, pareto_chart])
def test_no_rows_say_so(chart: object) -> None:
    root = parse(chart([], title="Nothing"))  # type: ignore[operator]
    assert "No data for this period" in texts(root)
    assert root.get("data-rows") == "0"
    assert points(root) == []


def test_a_pareto_chart_has_bars_cumulative_share_and_the_80_percent_guide() -> None:
    rows = pareto_rows([("MUG", 30), ("CABLE", 12), ("TEA", 5), ("LID", 1)])
    root = parse(pareto_chart(rows, title="Defects by SKU"))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [b.get("data-key") for b in bars] == ["MUG", "CABLE", "TEA", "LID"]
    heights = [float(b.get("height") or 0) for b in bars]
    assert heights == sorted(heights, reverse=True)
    assert root.find(".//*[@class='cumulative']") is not None
    assert root.find(".//*[@class='guide']") is not None
    labels = texts(root)
    assert "80 %" in labels and "100 %" in labels


def test_labels_from_data_are_escaped() -> None:
    """A SKU or a title is text, never markup: the page inserts the SVG as it is."""
    rows = pareto_rows([("<script>alert(1)</script>", 3), ('A"&B', 1)])
    svg = pareto_chart(rows, title="Defects by <b>SKU</b>")
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    root = parse(svg)
    assert root.find(f".//{SVG}script") is None
    assert [b.get("data-key") for b in root.iter(f"{SVG}rect")] == [
        "<script>alert(1)</script>",
        'A"&B',
    ]
    assert root.get("aria-label") == "Defects by <b>SKU</b>"

    day = p_chart_rows([(1, 10)])
    day[0]["key"] = "<img src=x onerror=alert(1)>"
    svg = line_chart_with_limits(day, title="t")
    assert "<img" not in svg
    parse(svg)


def test_pareto_labels_slant_when_they_would_not_fit() -> None:
    few = parse(pareto_chart(pareto_rows([("MUG", 3), ("TEA", 1)]), title="Two"))
    many = parse(pareto_chart(pareto_rows([(f"SKU-{n}", 20 - n) for n in range(12)]), title="12"))
    label = f"{SVG}text[@class='x-label']"
    assert all(t.get("transform") is None for t in few.iterfind(f".//{label}"))
    slanted = list(many.iterfind(f".//{label}"))
    assert len(slanted) == 12 and all("rotate" in (t.get("transform") or "") for t in slanted)


def test_a_long_pareto_shows_the_top_bars_and_says_so() -> None:
    rows = pareto_rows([(f"SKU-{n}", 100 - n) for n in range(40)])
    root = parse(pareto_chart(rows, title="Defects by SKU"))
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]) == 20
    assert (root.get("aria-label") or "").endswith("top 20 of 40")


@pytest.mark.parametrize(
    ("span", "step"), [(0.04, 0.01), (0.25, 0.05), (0.3, 0.1), (1.0, 0.2), (7, 2), (25, 5), (0, 1)]
)
def test_nice_steps(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)


def test_date_labels() -> None:
    assert date_label("2026-05-01") == "1 May"
    assert date_label("2026-W18") == "2026-W18"


# ---- the chart endpoints, on the real statistics ---------------------------------------------


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def test_the_charts_draw_the_statistics(client: TestClient, world: World) -> None:
    # Given a parcel held for a missing mug
    parcel = open_parcel(client, world)
    for code in (MUG, CABLE):
        scan(client, world, parcel["id"], code)
    assert close(client, world, parcel["id"])["status"] == "held"

    # The p-chart: today's one point, the same parameters as /stats/defect-rate
    chart = client.get("/stats/charts/defect-rate.svg", headers=world.auth("manager"))
    assert chart.status_code == 200, chart.text
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert "script-src" not in chart.headers["content-security-policy"]
    assert chart.headers["content-security-policy"].startswith("default-src 'none'")
    root = parse(chart.text)
    assert len(points(root)) == 1
    assert "caught at the bench" in (root.get("aria-label") or "")
    weekly = client.get(
        "/stats/charts/defect-rate.svg?group_by=week&stage=all", headers=world.auth("manager")
    )
    assert len(points(parse(weekly.text))) == 1

    # The Paretos: by SKU, and by kind in words
    by_sku = parse(client.get("/stats/charts/pareto.svg", headers=world.auth("manager")).text)
    assert [b.get("data-key") for b in by_sku.iter(f"{SVG}rect")] == ["MUG"]
    by_kind = client.get("/stats/charts/pareto.svg?dimension=kind", headers=world.auth("manager"))
    assert [b.get("data-key") for b in parse(by_kind.text).iter(f"{SVG}rect")] == ["missing item"]

    # A station without parcels: the chart says so
    empty = client.get("/stats/charts/pareto.svg?station=BENCH-2", headers=world.auth("manager"))
    assert "No data for this period" in texts(parse(empty.text))


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?group_by=sku", 422, "invalid_request"),
        ("?from=2026-05-02&to=2026-05-01", 400, "invalid_period"),
        ("?station=NOWHERE", 404, "unknown_station"),
        ("?kind=<script>", 422, "invalid_request"),
    ],
)
def test_bad_chart_parameters_are_refused(
    client: TestClient, world: World, query: str, status: int, code: str
) -> None:
    response = client.get(f"/stats/charts/defect-rate.svg{query}", headers=world.auth("manager"))
    assert response.status_code == status, response.text
    assert response.json()["error"] == code


@pytest.mark.parametrize("path", ["defect-rate.svg", "pareto.svg"])
@pytest.mark.parametrize("who", ["support", "supervisor", "admin", "packer", "station", None])
def test_only_managers_see_the_charts(
    client: TestClient, world: World, path: str, who: str | None
) -> None:
    headers = world.auth(who) if who else {}
    response = client.get(f"/stats/charts/{path}", headers=headers)
    assert response.status_code == (401 if who is None else 403)
