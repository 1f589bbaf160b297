"""HTTP API of the MES core: :func:`create_app` builds the FastAPI application."""

from __future__ import annotations

from mestwin.mes_core.api.app import create_app
from mestwin.mes_core.api.deps import ApiConfig

__all__ = ["ApiConfig", "create_app"]
