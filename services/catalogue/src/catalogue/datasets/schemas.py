"""The JSON form of a dataset record (the DCAT-AP 3.0.1 mandatory core, more to come)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

LangString = dict[str, str]


class DatasetIn(BaseModel):
    """A dataset as a client writes it: ``dct:title`` and ``dct:description`` are mandatory
    in DCAT-AP 3.0.1; both are language maps (``{"en": "...", "nl": "..."}``)."""

    model_config = ConfigDict(extra="forbid")

    identifier: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="Local identifier; generated when absent",
    )
    title: LangString = Field(min_length=1)
    description: LangString = Field(min_length=1)
    keyword: list[str] = Field(default_factory=list, max_length=100)
