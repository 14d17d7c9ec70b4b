"""The bench agent's settings: `QC_STATION_*` environment variables, or a TOML file.

The environment wins over the file, so one file can serve every bench of a site with the key
given per bench. Example file (`qc-station run --config bench.toml`):

    server_url = "http://qc.warehouse.lan:8000"
    key = "qc_…"
    camera = "0"              # device index, rtsp:// or http:// URL, a video file, a folder
    scanner = "stdin"         # or a serial port such as /dev/ttyACM0, or "none"
    scale = "/dev/ttyUSB0"    # a serial scale, "typed", or "none"
"""

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class StationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QC_STATION_", extra="forbid")

    server_url: str = "http://127.0.0.1:8000"
    key: str = Field(default="", description="This bench's station key (`qc station add`).")
    packer: str = Field(default="", description="The packer's badge, if one packer works here.")
    camera: str = Field(default="", description="Empty: no camera.")
    camera_realtime: bool = Field(
        default=True, description="Play a video file or folder at its own frame rate."
    )
    scanner: str = "stdin"
    scanner_baud: int = 9600
    gs_substitute: str | None = Field(
        default=None, description="What a keyboard-wedge scanner types for GS, e.g. ^]."
    )
    scale: str = Field(default="typed", description="A serial port, `typed`, or `none`.")
    scale_baud: int = 9600
    data_dir: Path = Field(default=Path("station-data"), description="The outbox lives here.")
    photo_code: str = Field(default="QC:PHOTO", description="The bench sheet's photo barcode.")
    close_code: str = Field(default="QC:CLOSE", description="The bench sheet's close barcode.")
    auto_photo: bool = Field(default=True, description="Photograph when the last item is in.")
    answer_wait_s: float = Field(
        default=1.5,
        ge=0,
        description="How long a scan waits for the server before the bench answers it itself.",
    )
    retry_s: float = Field(default=1.0, gt=0, description="Pause between tries while offline.")
    replay_pause_s: float = Field(
        default=0.0,
        ge=0,
        description="Pause between entries sent from a backlog, so that "
        "every bench of a site does not hit a server that just came back at full speed.",
    )
    sound: bool = True
    screen: str = Field(default="auto", description="`terminal`, `plain` (one line per event).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


def load(config: Path | None = None, **overrides: Any) -> StationSettings:
    """The settings from the environment, over the TOML file `config` if given.

    Raises:
        pydantic.ValidationError: a setting is malformed or unknown.
        FileNotFoundError: `config` does not exist.
    """
    if config is None:
        return StationSettings(**overrides)
    if not config.is_file():
        raise FileNotFoundError(f"no configuration file {config}")

    class FromFile(StationSettings):
        model_config = SettingsConfigDict(toml_file=config)

    return FromFile(**overrides)
