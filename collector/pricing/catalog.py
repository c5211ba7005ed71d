"""The built-in model price catalog, read once from the bundled JSON file.

`default-model-prices.json` is taken unchanged from the Langfuse repository
(worker/src/constants/default-model-prices.json), which carries this notice:

    Copyright (c) 2023-2026 ClickHouse, Inc.

    Permission is hereby granted, free of charge, to any person obtaining a copy of this
    software and associated documentation files (the "Software"), to deal in the Software
    without restriction, including without limitation the rights to use, copy, modify, merge,
    publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
    to whom the Software is furnished to do so, subject to the following conditions:

    The above copyright notice and this permission notice shall be included in all copies or
    substantial portions of the Software.

    THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
    INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
    PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
    FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
    OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
    DEALINGS IN THE SOFTWARE.
"""

from __future__ import annotations

import functools
from importlib import resources

import msgspec

from spyglass.collector.pricing.compiled import ModelPrice, compile_models
from spyglass.collector.pricing.definitions import ModelDefinition, model_definition_from_json

CATALOG_FILE = "default-model-prices.json"


def read_builtin_definitions() -> tuple[ModelDefinition, ...]:
    """The built-in models as definitions (project_id None, no start date: upstream seeds them
    that way, so dates never order built-ins against each other)."""
    raw = resources.files(__package__).joinpath(CATALOG_FILE).read_bytes()
    entries = msgspec.json.decode(raw)
    return tuple(model_definition_from_json(entry) for entry in entries)


@functools.cache
def builtin_catalog() -> tuple[ModelPrice, ...]:
    """The compiled built-in catalog in match order; loaded and compiled on first use only."""
    return compile_models(read_builtin_definitions())
