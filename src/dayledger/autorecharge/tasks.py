"""Worker jobs of this payment road."""

from __future__ import annotations

from ..jobs import Job

JOBS: list[Job] = []
