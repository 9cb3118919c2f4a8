"""The regions a service is offered in, found without loading the service's whole API model.

moto lists a service's regions (the only regions its backend answers for) when it makes the
service's first backend: botocore's `get_available_regions` loads the service's API model to
read one field of it, the endpoint prefix, and keeps it for good. A deploy of the workshop's
stack made moto load six models that way, about 0.1 s and 12 MB that nothing else used (moto
serves requests from models of its own). The prefix is the first field of the model's
`metadata`, at the start of its file: only that start is read here (by hand: botocore has no
call that reads part of a model). The regions are then botocore's, from the same endpoint
data and the same resolver call as `get_available_regions`.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import IO, Any

from botocore.exceptions import DataNotFoundError
from botocore.loaders import Loader, create_loader
from botocore.regions import EndpointResolver

logger = logging.getLogger(__name__)

_HEAD_CHARS = 8192  # a model's metadata is its first few hundred characters
_MODEL = "service-2"


@functools.cache
def _loader() -> Loader:
    return create_loader()


@functools.cache
def _resolver() -> EndpointResolver:
    """botocore's resolver on its endpoint data, read into plain dicts: botocore's loader
    builds an OrderedDict per object, which takes ten times as long for this file (0.1 s)."""
    with _open_data("endpoints") as endpoints:
        data = json.load(endpoints) if endpoints is not None else _loader().load_data("endpoints")
    return EndpointResolver(data)


@contextlib.contextmanager
def _open_data(name: str) -> Iterator[IO[str] | None]:
    """botocore's data file `name` (e.g. `s3/2006-03-01/service-2`) as text, from the first
    place botocore's loader looks that has it (as `load_data` chooses); None if none has."""
    for root in _loader().search_paths:
        path = os.path.join(root, name)
        if os.path.isfile(path + ".json"):
            with open(path + ".json", encoding="utf-8") as data:
                yield data
            return
        if os.path.isfile(path + ".json.gz"):
            with gzip.open(path + ".json.gz", "rt", encoding="utf-8") as data:
                yield data
            return
    yield None


def endpoint_prefix(service_name: str) -> str | None:
    """The service's `metadata.endpointPrefix`, read from the start of its model file; None if
    botocore does not know the service or the start does not hold it."""
    try:
        version = _loader().determine_latest_version(service_name, _MODEL)
    except DataNotFoundError:
        return None
    with _open_data(os.path.join(service_name, version, _MODEL)) as model:
        return _prefix_in(model.read(_HEAD_CHARS)) if model is not None else None


def _prefix_in(head: str) -> str | None:
    """`endpointPrefix` of the `metadata` object that starts in `head`, if all of it does."""
    start = head.find('"metadata"')
    brace = head.find("{", start) if start >= 0 else -1
    if brace < 0:
        return None
    try:
        metadata, _ = json.JSONDecoder().raw_decode(head, brace)
    except ValueError:  # cut off within the metadata
        return None
    prefix = metadata.get("endpointPrefix") if isinstance(metadata, dict) else None
    return prefix if isinstance(prefix, str) else None


@functools.cache
def regions_of(service_name: str) -> list[str] | None:
    """Every region of every partition botocore lists for the service, as
    `get_available_regions` does for each partition; None if the prefix cannot be read."""
    prefix = endpoint_prefix(service_name)
    if prefix is None:
        return None
    resolver = _resolver()
    return [
        region
        for partition in resolver.get_available_partitions()
        for region in resolver.get_available_endpoints(prefix, partition)
    ]


def without_loading_models(generate_regions: Callable[..., list[str]]) -> Callable[..., list[str]]:
    """moto's `AccountSpecificBackend._generate_regions`, using `regions_of` where it can (moto's
    own way where it cannot: botocore does not know the service, or its file is unusual)."""

    def generate(self: Any, service_name: str) -> list[str]:
        regions = regions_of(service_name)
        if regions is None:
            return generate_regions(self, service_name)
        return list(regions)

    return generate
