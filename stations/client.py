"""The agent's side of the API: a few calls over HTTP, and a clear line between "the server
said no" (final: shown to the packer) and "the server could not be asked" (retry later)."""

from typing import Any

import httpx

from stations.outbox import Entry

# Outbox entries that are not scans: the route each goes to. Their event id travels as the
# Idempotency-Key header, so a resend after a lost answer changes nothing on the server.
_ROUTES = {
    "close": "close",
    "weight": "weight",
    "damaged": "damaged",
    "short": "short",
}


class Offline(Exception):
    """The server could not be reached, or could not answer now (5xx): try again later."""


class Refused(Exception):
    """The server answered no (4xx): final. `code` and `detail` come from its error body."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class Client:
    def __init__(self, base_url: str, key: str, *, timeout: float = 5.0) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:  # refused, reset, timed out, name not found
            raise Offline(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise Offline(f"the server answered {response.status_code}")
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise Offline(f"the server answered {response.status_code} without JSON") from exc
        if response.status_code >= 400:
            raise Refused(
                response.status_code,
                str(body.get("error", "refused")),
                str(body.get("detail", "the server refused this")),
            )
        return response.status_code, body

    def me(self) -> dict[str, Any]:
        return self._call("GET", "/me")[1]

    def open_parcel(self, *, order: str, packer: str) -> dict[str, Any]:
        return self._call("POST", "/parcels", json={"order": order, "packer": packer})[1]

    def pack_data(self, parcel_id: int) -> dict[str, Any]:
        return self._call("GET", f"/parcels/{parcel_id}/pack-data")[1]

    def send(self, entry: Entry) -> tuple[int, dict[str, Any]]:
        """Deliver one outbox entry; the same entry again is recognised by the server."""
        base = f"/parcels/{entry.parcel_id}"
        if entry.kind == "scan":
            return self._call(
                "POST", f"{base}/scans", json={**entry.body, "event_id": entry.event_id}
            )
        if entry.kind == "photo":
            files = {"file": ("parcel.jpg", entry.blob or b"", "image/jpeg")}
            return self._call("POST", f"{base}/photos", files=files)
        route = _ROUTES[entry.kind]
        headers = {"Idempotency-Key": entry.event_id}
        body = entry.body or None
        return self._call("POST", f"{base}/{route}", json=body, headers=headers)
