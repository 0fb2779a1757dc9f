"""The strict base every config model derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A misspelled key is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
