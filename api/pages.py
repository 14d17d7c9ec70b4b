"""Server-rendered pages: the packer's page for benches without the agent, or a tablet, the
manager's dashboard and the support desk.

A page itself holds no data and needs no key: its script asks for a key (the station's, the
manager's) and calls the JSON API with it, like any other client.
"""

import hashlib
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
# Asset URLs carry a hash of the assets, so a bench never runs a stale script after an upgrade.
ASSETS_VERSION = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted(STATIC_DIR.glob("*")) if p.is_file())
).hexdigest()[:12]

# Only this server's own script and styles; the camera preview and snapshots are blob: URLs.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _page(request: Request, template: str) -> HTMLResponse:
    """A page of templates/ (each extends base.html), with its assets' version and headers."""
    return templates.TemplateResponse(request, template, {"v": ASSETS_VERSION}, headers=_HEADERS)


@router.get("/station", response_class=HTMLResponse)
async def station_page(request: Request) -> HTMLResponse:
    """The packer's page: log in with the station key and a badge, scan, photograph, close."""
    return _page(request, "station.html")


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request) -> HTMLResponse:
    """The manager's dashboard: log in with a manager's key; charts, tables and CSV."""
    return _page(request, "dashboard.html")


@router.get("/support", response_class=HTMLResponse)
async def support_page(request: Request) -> HTMLResponse:
    """The support desk: log in with a support key; find a parcel, see its photo, complaints."""
    return _page(request, "support.html")
