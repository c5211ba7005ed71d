"""JSON bodies whose strings are not UTF-8 are a 400 naming the problem, never a 500.

msgspec reports invalid UTF-8 inside a JSON string as UnicodeDecodeError, not DecodeError
(found by the decoder fuzz test with the body `"\\x80"`).
"""

from __future__ import annotations

import aiohttp
import pytest

from spyglass.collector.events.problems import InvalidRequest
from spyglass.collector.events.scores_api import parse_scores_body
from spyglass.collector.events.validate import parse_ingestion_body
from spyglass.collector.otel import OtlpDecodeError
from spyglass.collector.otel.json_decoder import decode_json_export
from tests.harness import Harness

BAD = b'{"batch": [{"id": "e1", "type": "trace-create", "timestamp": "2025-01-01T00:00:00Z", "body": {"id": "\x80"}}]}'


def test_otlp_json_decoder_refuses_invalid_utf8() -> None:
    with pytest.raises(OtlpDecodeError):
        decode_json_export(b'"\x80"')


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/public/otel/v1/traces", b'{"resourceSpans": [{"resource": {"attributes": [{"key": "\x80"}]}}]}'),
        ("/api/public/ingestion", BAD),
        ("/api/public/scores", b'{"traceId": "\x80", "name": "n", "value": 1}'),
        ("/api/public/comments", b'{"objectType": "TRACE", "objectId": "\x80", "content": "c"}'),
    ],
)
async def test_http_bodies_with_invalid_utf8_are_400(spyglass: Harness, path: str, body: bytes) -> None:
    keys = await spyglass.new_project()
    headers = {**keys.headers, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.post(f"{spyglass.url}{path}", data=body, headers=headers) as r:
        assert r.status == 400, (path, r.status, await r.text())
        assert "utf-8" in (await r.json())["message"].lower()


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_body_parsers_check_utf8_for_every_buffer_type_they_accept(kind: type) -> None:
    with pytest.raises(InvalidRequest, match="UTF-8"):
        parse_ingestion_body(kind(BAD))
    with pytest.raises(InvalidRequest, match="UTF-8"):
        parse_scores_body(kind(b'{"traceId": "\x80", "name": "n", "value": 1}'))


def test_body_parsers_take_text_as_it_is() -> None:
    assert parse_ingestion_body('{"batch": []}').events == []
    assert len(parse_scores_body('{"traceId": "t", "name": "n", "value": 1}').events) == 1
