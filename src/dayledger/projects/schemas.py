from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from ..models import Project
from ..replies import Reply
from ..text import Plain

ProjectName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Plain]


class ProjectBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: ProjectName


class ProjectReply(Reply):
    id: str
    name: str
    creationTS: int
    ownerId: str
    users: list[str]
    isDefault: bool

    @classmethod
    def of(cls, project: Project) -> ProjectReply:
        return cls(id=project.id, name=project.name, creationTS=project.created_ms, ownerId=project.partner_id,
                   users=[project.partner_id], isDefault=project.is_default)


class ProjectList(Reply):
    projects: list[ProjectReply]
    count: int
    offset: int
    total: int

    @classmethod
    def of(cls, rows: list[Project], total: int, offset: int) -> ProjectList:
        return cls(projects=[ProjectReply.of(p) for p in rows], count=len(rows), offset=offset, total=total)
