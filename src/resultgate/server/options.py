"""What one app instance is configured with and holds: the gateway's own settings,
taken from :class:`~resultgate._config.Settings` once, and the service it calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resultgate._config import Settings
    from resultgate._service import ResultService
    from resultgate.server.auth import Authorizer
    from resultgate.server.metrics import GatewayMetrics

__all__ = ["Gateway", "GatewayOptions", "gateway_of"]

MiB = 1024 * 1024


@dataclass(frozen=True)
class GatewayOptions:
    """The settings only the HTTP front end uses."""

    #: gateway Bearer tokens (RESULTGATE_TOKENS, RESULTGATE_TOKENS_FILE); empty means
    #: "forward the caller's Authorization to Prefect"
    tokens: tuple[str, ...] = ()
    #: CORS origins (RESULTGATE_CORS_ORIGINS); empty means no CORS headers at all
    cors_origins: tuple[str, ...] = ()
    #: the largest body ``POST /api/results/decode`` accepts (RESULTGATE_MAX_UPLOAD)
    max_upload: int = 64 * MiB
    #: past this many bytes of JSON a value comes back as a preview (RESULTGATE_INLINE_LIMIT)
    inline_limit: int = 1 * MiB

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayOptions:
        return cls(
            tokens=tuple(t for t in settings.tokens if t),
            cors_origins=tuple(settings.cors_origins),
            max_upload=settings.max_upload,
            inline_limit=settings.inline_limit,
        )


@dataclass
class Gateway:
    """Everything a request handler needs, kept on ``app.state.gateway``."""

    service: ResultService
    options: GatewayOptions
    authorizer: Authorizer
    metrics: GatewayMetrics
    #: True when the app built the service (and so closes it at shutdown)
    owns_service: bool = False


def gateway_of(app_state: Any) -> Gateway:
    gw: Gateway = app_state.gateway
    return gw
