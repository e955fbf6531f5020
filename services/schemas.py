"""Pydantic shapes shared by every domain."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar, get_args

from pydantic import BaseModel, GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


def _reject_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("null_not_allowed", "May be left out, but not null")
    return value


class _NotNull:
    """Validates `X | None` as X alone: None stays the Python default for "left out", never a value."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        (inner,) = [arg for arg in get_args(source) if arg is not type(None)]
        return core_schema.no_info_before_validator_function(_reject_null, handler.generate_schema(inner))


# A field of a PATCH body that may be left out but not set to null, for columns that cannot be empty:
# `name: Omittable[str] = None`. A left-out field keeps its default None (so
# `model_dump(exclude_unset=True)` skips it); an explicit null is a 422, and the OpenAPI schema does not
# offer null. Fields that may really be emptied stay `X | None`.
Omittable = Annotated[T | None, _NotNull()]
