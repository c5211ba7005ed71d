from __future__ import annotations

import asyncio

from tests.harness import Harness


async def test_generation_with_a_prompt_is_linked_to_its_version(spyglass: Harness) -> None:
    keys = await spyglass.new_project()

    def run() -> tuple[str, str]:
        from langfuse import Langfuse

        lf = Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=spyglass.url)
        lf.create_prompt(name="greeter", prompt="Hello {{name}}", labels=["production"])
        lf.create_prompt(name="greeter", prompt="Hi {{name}}!", labels=["production"])
        prompt = lf.get_prompt("greeter", cache_ttl_seconds=0)
        with lf.start_as_current_observation(name="gen", as_type="generation", prompt=prompt) as gen:
            gen.update(output=prompt.compile(name="Ada"))
            trace_id = lf.get_current_trace_id()
        lf.flush()
        return trace_id, str(prompt.version)

    trace_id, version = await asyncio.to_thread(run)
    await spyglass.wait_idle()
    rows = await spyglass.stores.ch.rows(
        "SELECT prompt_name, prompt_version, prompt_id, output FROM observations "
        "WHERE project_id = {p:String} AND trace_id = {t:String}",
        {"p": keys.project_id, "t": trace_id},
    )
    assert len(rows) == 1
    row = rows[0]
    assert (row["prompt_name"], str(row["prompt_version"])) == ("greeter", version) and version == "2"
    assert row["output"] == "Hi Ada!"
    expected = await spyglass.stores.pg.fetchval(
        "SELECT id FROM prompts WHERE project_id = $1 AND name = 'greeter' AND version = 2", keys.project_id
    )
    assert expected, "the prompt version the generation names must exist"
    assert row["prompt_id"] == expected
