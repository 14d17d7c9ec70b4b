"""Stations, users and their bearer keys. A key is shown once and stored only as its SHA-256.

Keys carry 256 random bits, so a fast hash is enough: nobody can guess a preimage, and a
slow password hash would cost every request its latency for nothing.
"""

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import Session, col, select, update

from qc.audit import record_event
from qc.enums import Role
from qc.errors import Conflict, InvalidInput, NotFound, Unauthorized
from qc.models import ApiKey, Station, User, utcnow

KEY_PREFIX = "qc_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a station (role None) or a user with a role."""

    kind: str
    id: int
    name: str
    role: Role | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _issue_key(
    session: Session, *, station_id: int | None = None, user_id: int | None = None
) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(key_hash=hash_key(key), prefix=key[:10], station_id=station_id, user_id=user_id)
    )
    session.flush()
    return key


def add_station(*, session: Session, code: str, actor: str = "cli") -> tuple[Station, str]:
    """Create a station and its first key.

    Returns:
        The station and its key, which is not stored anywhere in clear.

    Raises:
        InvalidInput: the code is empty or too long.
        Conflict: a station with that code exists.
    """
    code = code.strip()
    if not code or len(code) > 32:
        raise InvalidInput("a station code is 1 to 32 characters", code="invalid_station_code")
    if session.exec(select(Station).where(Station.code == code)).first():
        raise Conflict(f"station {code} already exists", code="station_exists")
    station = Station(code=code)
    session.add(station)
    session.flush()
    assert station.id is not None
    key = _issue_key(session, station_id=station.id)
    record_event(session, actor=actor, action="key.issued", object_type="station", object_id=code)
    return station, key


def add_user(
    *, session: Session, name: str, role: Role, badge: str | None = None, actor: str = "cli"
) -> tuple[User, str]:
    """Create a user with a role (and a badge, for those who pack) and their first key.

    Raises:
        InvalidInput: the name is empty or too long, or a packer has no badge.
        Conflict: the name or the badge is taken.
    """
    name, badge = name.strip(), (badge.strip() if badge else None) or None
    if not name or len(name) > 100:
        raise InvalidInput("a user name is 1 to 100 characters", code="invalid_user_name")
    if role is Role.PACKER and badge is None:
        raise InvalidInput(
            "a packer needs a badge: the code they scan to open a parcel", code="badge_required"
        )
    if session.exec(select(User).where(User.name == name)).first():
        raise Conflict(f"user {name} already exists", code="user_exists")
    if badge and session.exec(select(User).where(User.badge == badge)).first():
        raise Conflict(f"badge {badge} belongs to another user", code="badge_taken")
    user = User(name=name, role=role.value, badge=badge)
    session.add(user)
    session.flush()
    assert user.id is not None
    key = _issue_key(session, user_id=user.id)
    record_event(session, actor=actor, action="key.issued", object_type="user", object_id=name)
    return user, key


def _station(session: Session, code: str) -> Station:
    station = session.exec(select(Station).where(Station.code == code)).first()
    if station is None:
        raise NotFound(f"no station {code}", code="station_not_found")
    return station


def _user(session: Session, name: str) -> User:
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user {name}", code="user_not_found")
    return user


def _revoke_keys(
    session: Session, *, station_id: int | None = None, user_id: int | None = None
) -> None:
    owner = (
        col(ApiKey.station_id) == station_id
        if station_id is not None
        else col(ApiKey.user_id) == user_id
    )
    session.exec(
        update(ApiKey).where(owner, col(ApiKey.revoked_at).is_(None)).values(revoked_at=utcnow())
    )


def revoke_station(*, session: Session, code: str, actor: str = "cli") -> None:
    """Revoke every key of a station; it can no longer call the API."""
    station = _station(session, code)
    _revoke_keys(session, station_id=station.id)
    station.revoked_at = utcnow()
    record_event(session, actor=actor, action="key.revoked", object_type="station", object_id=code)


def revoke_user(*, session: Session, name: str, actor: str = "cli") -> None:
    """Revoke every key of a user and retire their badge from packing."""
    user = _user(session, name)
    _revoke_keys(session, user_id=user.id)
    user.revoked_at = utcnow()
    record_event(session, actor=actor, action="key.revoked", object_type="user", object_id=name)


def rotate_key(*, session: Session, station: str | None = None, user: str | None = None) -> str:
    """Revoke the current keys of a station or user and issue a new one."""
    if station is not None:
        owner = _station(session, station)
        _revoke_keys(session, station_id=owner.id)
        key = _issue_key(session, station_id=owner.id)
        owner.revoked_at = None
    else:
        person = _user(session, user or "")
        _revoke_keys(session, user_id=person.id)
        key = _issue_key(session, user_id=person.id)
        person.revoked_at = None
    record_event(
        session,
        actor="cli",
        action="key.rotated",
        object_type="station" if station else "user",
        object_id=station or user or "",
    )
    return key


_BY_KEY = (
    select(ApiKey, Station, User)
    .outerjoin(Station, col(ApiKey.station_id) == Station.id)
    .outerjoin(User, col(ApiKey.user_id) == User.id)
    .where(ApiKey.key_hash == bindparam("key_hash"), col(ApiKey.revoked_at).is_(None))
)


def authenticate(*, session: Session, key: str) -> Principal:
    """The principal a bearer key belongs to.

    Raises:
        Unauthorized: the key is unknown or revoked.
    """
    found = session.exec(_BY_KEY, params={"key_hash": hash_key(key)}).first()
    if found is None:
        raise Unauthorized("this key is unknown or revoked", code="invalid_key")
    _, station, user = found
    if station is not None and station.id is not None:
        return Principal("station", station.id, station.code)
    assert user is not None and user.id is not None
    return Principal("user", user.id, user.name, Role(user.role))


def packer_by_badge(session: Session, badge: str) -> User:
    """The active user wearing `badge`.

    Raises:
        NotFound: no active user has that badge.
    """
    user = session.exec(
        select(User).where(User.badge == badge.strip(), col(User.revoked_at).is_(None))
    ).first()
    if user is None:
        raise NotFound(f"no active packer has badge {badge.strip()}", code="unknown_badge")
    return user
