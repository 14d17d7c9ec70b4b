"""Settings for the server and the `qc` command line, read from `QC_*` environment variables."""

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "development-only-secret-change-me"  # noqa: S105 (refused outside development)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QC_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("data")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = True
    secret_key: str = DEV_SECRET
    log_level: str = "info"
    timezone: str = Field(default="UTC", description="The warehouse's time zone (IANA name).")

    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    sqlite_synchronous: Literal["normal", "full"] = Field(
        default="normal", description="full: sync the disk on every commit (survives a power cut)."
    )
    db_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Database transactions one server process runs at once (the rest queue).",
    )
    auth_cache_seconds: float = Field(
        default=10,
        ge=0,
        description="How long a checked key is trusted before it is looked up again.",
    )

    packaging_tare_g: int = Field(
        default=150, ge=0, description="Box and filler weight added to the items' weight."
    )
    weight_tolerance_pct: float = Field(
        default=5.0, ge=0, description="Allowed weight deviation, percent."
    )
    weight_tolerance_min_g: int = Field(
        default=30, ge=0, description="Allowed deviation never below this, grams."
    )

    photo_store: Literal["fs", "s3"] = Field(
        default="fs", description="fs: a folder (QC_PHOTO_DIR); s3: an S3-compatible bucket."
    )
    photo_dir: Path | None = Field(default=None, description="Default: the data folder's photos/.")
    s3_endpoint_url: str = ""
    s3_bucket: str = "qc-photos"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    s3_prefix: str = Field(default="photos/", description="Where in the bucket photos go.")
    photo_max_bytes: int = Field(default=15 * 1024 * 1024, ge=1024, description="Upload limit.")
    photo_max_pixels: int = Field(
        default=50_000_000, ge=10_000, description="Refused before decoding (bombs)."
    )
    photo_max_side: int = Field(
        default=2000, ge=320, le=8000, description="Long side of the kept image, pixels."
    )
    photo_min_sharpness: float = Field(default=50.0, ge=0)
    photo_min_brightness: float = Field(default=45.0, ge=0, le=255)
    photo_max_brightness: float = Field(default=220.0, ge=0, le=255)
    photo_required: bool = Field(
        default=False, description="Closing a parcel needs a photo that passed the gate."
    )
    photo_retention_days: int = Field(
        default=120, ge=1, description="Card chargebacks run to 120 days."
    )
    photo_url_seconds: int = Field(
        default=900, ge=10, description="How long a signed photo URL stays valid."
    )
    photo_sweep_grace_hours: float = Field(
        default=24, ge=0.1, description="A file this young may still be waiting for its row."
    )
    webhook_delivery: bool = Field(
        default=True,
        description="Each server process sends due webhook deliveries from a thread of its own.",
    )
    repeat_claims: int = Field(
        default=3, ge=1, description="Complaints by one customer reference that flag a repeat."
    )
    repeat_claim_days: int = Field(
        default=90, ge=1, description="The period, in days, repeat complaints are counted over."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.env == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("QC_SECRET_KEY must be set to a real secret when QC_ENV=production")
        return self

    @property
    def db_url(self) -> str:
        """The database URL: QC_DATABASE_URL, else an SQLite file in the data folder."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'qc.db').resolve()}"

    @property
    def photos_path(self) -> Path:
        return self.photo_dir or self.data_dir / "photos"


def normalize_database_url(url: str) -> str:
    """Route plain `postgresql://` URLs to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
