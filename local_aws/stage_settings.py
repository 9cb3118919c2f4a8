"""A stage's route settings, as API Gateway applies them to each request.

`AWS::ApiGatewayV2::Stage` (and UpdateStage) carry `DefaultRouteSettings` and, per route
key, `RouteSettings`: throttling (`ThrottlingBurstLimit`, `ThrottlingRateLimit`), execution
logging (`LoggingLevel`, `DataTraceEnabled`) and `DetailedMetricsEnabled`. A route's own
setting wins over the default, field by field [doc: AWS::ApiGatewayV2::Stage RouteSettings].

They are stage settings, not part of a deployment: read from moto when a request needs
them, so an update applies at once, as on AWS.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

LOGGING_LEVELS = ("OFF", "ERROR", "INFO")


@dataclass(frozen=True)
class RouteSettings:
    """What applies to one route of a stage; None where neither the route nor the default
    sets it."""

    burst_limit: int | None = None
    rate_limit: float | None = None
    logging_level: str = "OFF"  # OFF, ERROR or INFO
    data_trace: bool = False
    detailed_metrics: bool = False


@dataclass(frozen=True)
class StageSettings:
    """A stage's default route settings, its per-route ones, and its access log settings."""

    default: dict[str, Any] = field(default_factory=dict)
    by_route: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_log: dict[str, Any] | None = None

    def route(self, route_key: str | None) -> RouteSettings:
        """The settings of `route_key` (None or "": a request no route matched)."""
        own = self.by_route.get(route_key or "", {})

        def pick(name: str, read: Callable[[Any], T | None]) -> T | None:
            value = read(own.get(name))  # a value that is not one counts as unset
            return read(self.default.get(name)) if value is None else value

        level = pick("loggingLevel", _level)
        return RouteSettings(
            burst_limit=pick("throttlingBurstLimit", _whole),
            rate_limit=pick("throttlingRateLimit", _number),
            logging_level=level or "OFF",
            data_trace=bool(pick("dataTraceEnabled", _flag)),
            detailed_metrics=bool(pick("detailedMetricsEnabled", _flag)),
        )


NO_SETTINGS = StageSettings()


def read(account_id: str, region: str, api_id: str, stage: str) -> StageSettings:
    """The stage's settings in moto now; none if the API or the stage is gone.

    Reads plain attributes only, so it is safe without moto's lock (a concurrent update is
    seen either before or after).
    """
    from moto.apigatewayv2.models import apigatewayv2_backends

    try:
        api = apigatewayv2_backends[account_id][region].get_api(api_id)
        moto_stage = api.stages.get(stage)
        if moto_stage is None:
            return NO_SETTINGS
        by_route = moto_stage.route_settings
        default = moto_stage.default_route_settings
        access_log = moto_stage.access_log_settings
        return StageSettings(
            default=dict(default) if isinstance(default, dict) else {},
            by_route={
                key: dict(value)
                for key, value in dict(by_route if isinstance(by_route, dict) else {}).items()
                if isinstance(value, dict)
            },
            access_log=dict(access_log) if isinstance(access_log, dict) else None,
        )
    except Exception:  # the API is gone, or a concurrent update changed a dict being copied
        return NO_SETTINGS


def _number(value: Any) -> float | None:
    """A limit as a number: CloudFormation parameters arrive as text. Not a number: None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _whole(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _level(value: Any) -> str | None:
    level = str(value).upper() if isinstance(value, str) else None
    return level if level in LOGGING_LEVELS else None
