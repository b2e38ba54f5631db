from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from ..text import Storable

ProjectName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Storable]


class ProjectBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: ProjectName
