"""The base of every request body the API takes."""

from pydantic import BaseModel, ConfigDict, field_validator


class StrictIn(BaseModel):
    """What every request body is: no unknown fields, no NUL characters."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL cannot store NUL in text and SQLite would: refuse it alike on both.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value
