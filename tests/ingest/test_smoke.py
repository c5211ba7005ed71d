from __future__ import annotations

import asyncio

import aiohttp

from tests.harness import Harness


async def test_health_ready_and_projects(spyglass: Harness) -> None:
    keys = await spyglass.new_project("smoke")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{spyglass.url}/api/public/health") as r:
            assert r.status == 200
            body = await r.json()
            assert body["status"] == "OK" and body["version"]
        async with http.get(f"{spyglass.url}/api/public/health?failIfDatabaseUnavailable=true") as r:
            assert r.status == 200
        async with http.get(f"{spyglass.url}/api/public/ready") as r:
            assert r.status == 200
        async with http.get(f"{spyglass.url}/api/public/projects", headers=keys.headers) as r:
            assert r.status == 200
            data = (await r.json())["data"]
            assert [p["id"] for p in data] == [keys.project_id]
            assert data[0]["name"] == "smoke" and data[0]["organization"]["id"]
        async with http.get(
            f"{spyglass.url}/api/public/projects", auth=aiohttp.BasicAuth(keys.public_key, "sk-lf-wrong")
        ) as r:
            assert r.status == 401
            assert "invalid API key" in (await r.json())["message"]


async def test_otlp_http_roundtrip(spyglass: Harness) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    keys = await spyglass.new_project()
    exporter = OTLPSpanExporter(endpoint=f"{spyglass.url}/api/public/otel/v1/traces", headers=keys.headers)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("smoke")

    def emit() -> str:
        with tracer.start_as_current_span("root") as root:
            root.set_attribute("langfuse.observation.type", "span")
            with tracer.start_as_current_span("llm") as llm:
                llm.set_attribute("gen_ai.request.model", "gpt-4o")
                llm.set_attribute("gen_ai.usage.input_tokens", 10)
                llm.set_attribute("gen_ai.usage.output_tokens", 5)
        provider.shutdown()
        return format(root.get_span_context().trace_id, "032x")

    trace_id = await asyncio.to_thread(emit)
    await spyglass.wait_idle()
    rows = await spyglass.stores.ch.rows(
        "SELECT name, type, provided_model_name, usage_details, total_cost FROM observations "
        "WHERE project_id = {p:String} AND trace_id = {t:String} ORDER BY name",
        {"p": keys.project_id, "t": trace_id},
    )
    assert [r["name"] for r in rows] == ["llm", "root"]
    llm = rows[0]
    assert llm["type"] == "GENERATION" and llm["provided_model_name"] == "gpt-4o"
    assert llm["usage_details"] == {"input": 10, "output": 5, "total": 15}
    assert llm["total_cost"] and llm["total_cost"] > 0
    traces = await spyglass.stores.ch.rows(
        "SELECT id, name FROM traces WHERE project_id = {p:String} AND id = {t:String} "
        "ORDER BY event_ts DESC LIMIT 1 BY id",
        {"p": keys.project_id, "t": trace_id},
    )
    assert traces and traces[0]["name"] == "root"
