"""Operability: /health, /ready, /metrics (Prometheus) and JSON log lines.

``install(app)`` mounts the routes and the request-metrics middleware. The worker imports
only ``ops.metrics.record_job``, so this package's web parts load lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    from .endpoints import install as install_endpoints
    install_endpoints(app)


__all__ = ["install"]
