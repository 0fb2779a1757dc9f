"""Zones drawn on a camera's image, normalised to 0..1 (x right, y down)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from cashwatch.config.base import StrictModel

Coordinate = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[Coordinate, Coordinate]
Polygon = list[Point]


class ZonesConfig(StrictModel):
    """Optional polygons; a rule that needs a zone does nothing without it."""

    cashier: Polygon | None = Field(
        default=None,
        title="Cashier zone",
        description="Where staff stand. People whose hips are inside count as staff. "
        "Without it no cash event fires.",
    )
    counter: Polygon | None = Field(
        default=None,
        title="Counter zone",
        description="Where hand-overs happen; when set, wrists must meet inside it.",
    )
    drawer: Polygon | None = Field(
        default=None,
        title="Cash drawer zone",
        description="The cash drawer; used when the cash rule requires a drawer visit.",
    )

    @field_validator("cashier", "counter", "drawer")
    @classmethod
    def _at_least_three_points(cls, value: Polygon | None) -> Polygon | None:
        if value is not None and len(value) < 3:
            raise ValueError(f"a zone needs at least 3 [x, y] points, got {len(value)}")
        return value
