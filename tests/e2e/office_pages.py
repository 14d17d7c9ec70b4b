"""What the office pages' tests share: the page and its assets, served without a key."""

import re

from fastapi.testclient import TestClient


def check_served(client: TestClient, page_name: str, *, allowed: tuple[str, ...] = ()) -> None:
    """/`page_name` is served without a key, with a CSP, nothing from a CDN, and its assets
    (office.js/css, then its own) served with their types and no address elsewhere in them
    (`allowed`: addresses that are names, not places, such as the SVG namespace)."""
    page = client.get(f"http://testserver/{page_name}")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert '<html lang="en">' in html
    assert "cdn" not in html.lower()
    for asset in ("office.js", f"{page_name}.js", "office.css", f"{page_name}.css"):
        kind = "javascript" if asset.endswith(".js") else "text/css"
        url = re.search(rf'"(/static/{asset}\?v=\w+)"', html)
        assert url is not None, asset
        served = client.get(f"http://testserver{url[1]}")
        assert served.status_code == 200
        assert kind in served.headers["content-type"]
        text = served.text
        for name in allowed:
            text = text.replace(name, "")
        assert "http" not in text  # nothing from elsewhere
