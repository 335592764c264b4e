"""TMF632 v5 Organization: the fields of ``Organization_FVO`` we claim, validated; others kept."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

OrganizationState = Literal["initialized", "validated", "closed"]


class OrganizationCreate(BaseModel):
    """``Organization_FVO``: ``@type`` and ``name`` are required (TMF632 v5.0.0)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, strict=True)

    type_: Literal["Organization"] = Field(alias="@type")
    base_type: str | None = Field(default=None, alias="@baseType")
    schema_location: str | None = Field(default=None, alias="@schemaLocation")
    name: str = Field(min_length=1, max_length=512)
    status: OrganizationState | None = None
    tradingName: str | None = Field(default=None, max_length=512)
    nameType: str | None = None
    isLegalEntity: bool | None = None
    isHeadOffice: bool | None = None
    organizationType: str | None = Field(default=None, max_length=256)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        """TMF resources omit what they do not state; an explicit null is refused."""
        if isinstance(data, dict):
            nulls = [k for k, v in data.items() if v is None]
            if nulls:
                raise ValueError(f"null is not a value for {', '.join(sorted(nulls))}")
        return data
