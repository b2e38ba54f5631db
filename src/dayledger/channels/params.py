"""Path and query parameters of the channel routes (also used by the operator's routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from ..ids import CHANNEL_ID_PATTERN, PROJECT_ID_PATTERN
from ..text import Storable

ChannelID = Annotated[str, Path(pattern=CHANNEL_ID_PATTERN, description="Channel ID")]
ProjectID = Annotated[str, Path(pattern=PROJECT_ID_PATTERN, description="Project ID")]
Uid = Annotated[str | None, Query(pattern=r"^(?:[a-zA-Z0-9]{28}|me)$", description="User ID")]
ModeFilter = Annotated[str | None, Query(pattern="^(trial|dev|dev_archive|live)$")]
StateFilter = Annotated[str | None, Query(pattern="^(running|stopped|expired)$")]
StatusFilter = Annotated[str | None, Query(pattern="^(AUTH|QR|INIT|LAUNCH|STOP|SYNC_ERROR|expired)$")]
Expiring = Annotated[int | None, Query(ge=0, le=3650, description="only channels ending within N days")]
Search = Annotated[str | None, Query(max_length=200, description="text in the name, id or phone"), Storable]
