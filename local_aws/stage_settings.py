"""A stage's route settings, as API Gateway applies them to each request.

`AWS::ApiGatewayV2::Stage` (and UpdateStage) carry `DefaultRouteSettings` and, per route
key, `RouteSettings`: throttling (`ThrottlingBurstLimit`, `ThrottlingRateLimit`), execution
logging (`LoggingLevel`, `DataTraceEnabled`) and `DetailedMetricsEnabled`. A route's own
setting wins over the default, field by field [doc: AWS::ApiGatewayV2::Stage RouteSettings].

They are stage settings, not part of a deployment: read from moto when a request needs
them, so an update applies at once, as on AWS.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

LOGGING_LEVELS = ("OFF", "ERROR", "INFO")
_MAX_ROUTES = 300  # API Gateway's quota of routes per API


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
    # route key -> its RouteSettings, worked out once (settings are read for every message)
    _routes: dict[str, RouteSettings] = field(default_factory=dict, compare=False, repr=False)

    def route(self, route_key: str | None) -> RouteSettings:
        """The settings of `route_key` (None or "": a request no route matched)."""
        settings = self._routes.get(route_key or "")
        if settings is None:
            settings = self._route(route_key or "")
            if len(self._routes) < _MAX_ROUTES:  # bounded: route keys come from deployments
                self._routes[route_key or ""] = settings
        return settings

    def _route(self, route_key: str) -> RouteSettings:
        own = self.by_route.get(route_key, {})

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
        raw = (
            moto_stage.default_route_settings,
            moto_stage.route_settings,
            moto_stage.access_log_settings,
        )
        return _CACHE.settings(moto_stage, raw)
    except Exception:  # the API is gone, or a concurrent update changed a dict being copied
        return NO_SETTINGS


def _parsed(raw: tuple[Any, Any, Any]) -> StageSettings:
    """StageSettings from a moto stage's (default, by route, access log) settings."""
    default, by_route, access_log = raw
    return StageSettings(
        default=dict(default) if isinstance(default, dict) else {},
        by_route={
            key: dict(value)
            for key, value in dict(by_route if isinstance(by_route, dict) else {}).items()
            if isinstance(value, dict)
        },
        access_log=dict(access_log) if isinstance(access_log, dict) else None,
    )


class _ParsedSettings:
    """Each stage's StageSettings, made again only when its settings change.

    Every message reads its stage's settings (throttling), and building them costs more than
    the rest of the check. An entry is reused only while the moto stage is the same object
    and its settings are equal to a private copy taken when the entry was made, so an update
    in place, a replaced dict or a re-created stage is seen at the next read, as before.
    Bounded: emptied when it holds MAX_STAGES entries.
    """

    MAX_STAGES = 1024

    def __init__(self) -> None:
        # id(moto stage) -> (the stage, a deep copy of its raw settings, the parsed ones)
        self._entries: dict[int, tuple[object, tuple[Any, Any, Any], StageSettings]] = {}

    def settings(self, moto_stage: object, raw: tuple[Any, Any, Any]) -> StageSettings:
        entry = self._entries.get(id(moto_stage))
        if entry is not None and entry[0] is moto_stage and entry[1] == raw:
            return entry[2]
        parsed = _parsed(raw)
        if len(self._entries) >= self.MAX_STAGES:
            self._entries.clear()
        self._entries[id(moto_stage)] = (moto_stage, copy.deepcopy(raw), parsed)
        return parsed


_CACHE = _ParsedSettings()


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
