"""The `qc` command line: keys shown once and stored as hashes, revocation, the demo warehouse."""

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app
from qc.identity import hash_key
from qc.models import ApiKey, AuditEvent

runner = CliRunner()


def qc(*args: str):
    return runner.invoke(app, list(args))


def me(client: TestClient, key: str):
    return client.get("/me", headers={"Authorization": f"Bearer {key}"})


def test_station_key_is_printed_alone_and_stored_as_a_hash(
    cli_env: Path, live_engine: Engine, live_client: TestClient
) -> None:
    result = qc("station", "add", "BENCH-9")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert result.stdout == key + "\n"
    assert key.startswith("qc_")
    assert me(live_client, key).json() == {"kind": "station", "name": "BENCH-9", "role": None}
    with Session(live_engine) as session:
        stored = session.exec(select(ApiKey)).one()
        assert stored.key_hash == hash_key(key)
        assert key not in stored.model_dump_json()
        assert session.exec(select(AuditEvent.action)).all() == ["key.issued"]


def test_adding_a_station_twice_fails_with_a_sentence(cli_env: Path) -> None:
    assert qc("station", "add", "BENCH-9").exit_code == 0
    again = qc("station", "add", "BENCH-9")
    assert again.exit_code == 1
    assert "station_exists" in again.stderr
    assert again.stdout == ""


def test_users_roles_and_badges(cli_env: Path, live_client: TestClient) -> None:
    no_badge = qc("user", "add", "Ann", "--role", "packer")
    assert (no_badge.exit_code, "badge_required" in no_badge.stderr) == (1, True)
    bad_role = qc("user", "add", "Ann", "--role", "boss")
    assert bad_role.exit_code == 2
    key = qc("user", "add", "Ann", "--role", "supervisor", "--badge", "S-9").stdout.strip()
    assert me(live_client, key).json() == {"kind": "user", "name": "Ann", "role": "supervisor"}
    taken = qc("user", "add", "Bob", "--role", "packer", "--badge", "S-9")
    assert "badge_taken" in taken.stderr
    listing = qc("user", "list")
    assert "Ann" in listing.stdout
    assert "S-9" in listing.stdout


def test_revoke_and_rotate(cli_env: Path, live_client: TestClient) -> None:
    old = qc("station", "add", "BENCH-9").stdout.strip()
    new = qc("station", "rotate", "BENCH-9").stdout.strip()
    assert me(live_client, old).status_code == 401
    assert me(live_client, new).status_code == 200
    assert qc("station", "revoke", "BENCH-9").exit_code == 0
    assert me(live_client, new).status_code == 401
    user = qc("user", "add", "Cy", "--role", "support").stdout.strip()
    assert qc("user", "revoke", "Cy").exit_code == 0
    assert me(live_client, user).status_code == 401
    assert qc("user", "revoke", "Nobody").exit_code == 1


def test_demo_loads_once_and_can_be_packed_end_to_end(
    cli_env: Path, live_client: TestClient
) -> None:
    loaded = qc("demo", "load", "--if-empty")
    assert loaded.exit_code == 0, loaded.output
    keys = dict(
        line.split(": ", 1) for line in (cli_env / "demo-keys.txt").read_text().splitlines()
    )
    assert oct((cli_env / "demo-keys.txt").stat().st_mode & 0o777) == "0o600"
    assert qc("demo", "load", "--if-empty").exit_code == 0  # already loaded: shows the keys again
    assert qc("demo", "load").exit_code == 1

    station = {"Authorization": f"Bearer {keys['station BENCH-1']}"}
    parcel = live_client.post(
        "/parcels", json={"order": "DEMO-1001", "packer": "P-001"}, headers=station
    ).json()
    for i, code in enumerate(["4006381333931", "4006381333931", "96385074"]):
        answer = live_client.post(
            f"/parcels/{parcel['id']}/scans",
            json={"code": code, "event_id": f"demo-{i}"},
            headers=station,
        )
        assert answer.json()["result"] == "accepted"
    assert (
        live_client.post(f"/parcels/{parcel['id']}/close", headers=station).json()["status"]
        == "passed"
    )


def test_db_upgrade_twice_is_harmless(cli_env: Path) -> None:
    assert qc("db", "upgrade").exit_code == 0
    assert qc("db", "upgrade").exit_code == 0
