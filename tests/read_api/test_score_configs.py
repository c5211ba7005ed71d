"""/api/public/score-configs through the installed SDK's client, plus validation errors."""

from __future__ import annotations

import pytest
from langfuse.api.commons.types.config_category import ConfigCategory
from langfuse.api.core.api_error import ApiError

from tests.read_api.conftest import Api


async def test_create_each_type_and_read_back(api: Api) -> None:
    client = api.sdk()
    numeric = await client.score_configs.create(name="accuracy", data_type="NUMERIC", min_value=0, max_value=1)
    assert (numeric.min_value, numeric.max_value, numeric.categories) == (0, 1, None)
    boolean = await client.score_configs.create(name="correct", data_type="BOOLEAN", description="yes or no")
    assert [(c.label, c.value) for c in boolean.categories or []] == [("True", 1), ("False", 0)]
    categorical = await client.score_configs.create(
        name="tone (v2)",
        data_type="CATEGORICAL",
        categories=[ConfigCategory(label="friendly", value=1), ConfigCategory(label="rude", value=0)],
    )
    text = await client.score_configs.create(name="notes", data_type="TEXT")
    assert text.data_type == "TEXT" and text.is_archived is False and text.project_id == api.project_id

    got = await client.score_configs.get_by_id(categorical.id)
    assert got.name == "tone (v2)" and [c.label for c in got.categories or []] == ["friendly", "rude"]
    page = await client.score_configs.get(limit=3)
    assert [c.id for c in page.data] == [text.id, categorical.id, boolean.id]
    assert (page.meta.total_items, page.meta.total_pages) == (4, 2)
    second = await client.score_configs.get(limit=3, page=2)
    assert [c.id for c in second.data] == [numeric.id]


async def test_update_archive_and_fields(api: Api) -> None:
    client = api.sdk()
    cfg = await client.score_configs.create(name="latency", data_type="NUMERIC", min_value=0)
    archived = await client.score_configs.update(cfg.id, is_archived=True, description="old")
    assert archived.is_archived is True and archived.description == "old" and archived.min_value == 0
    renamed = await client.score_configs.update(cfg.id, name="latency-v2", max_value=10)
    assert (renamed.name, renamed.max_value, renamed.is_archived) == ("latency-v2", 10, True)
    assert (await client.score_configs.get_by_id(cfg.id)).name == "latency-v2"
    status, body = await api.call("PATCH", f"/api/public/score-configs/{cfg.id}", json={"maxValue": -1})
    assert status == 400 and "'maxValue'" in body["message"]
    status, body = await api.call("PATCH", f"/api/public/score-configs/{cfg.id}", json={})
    assert status == 400
    status, _ = await api.call("PATCH", "/api/public/score-configs/missing", json={"isArchived": True})
    assert status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataType": "NUMERIC"}, "name"),
        ({"name": "x" * 36, "dataType": "NUMERIC"}, "name"),
        ({"name": "semi;colon", "dataType": "NUMERIC"}, "name"),
        ({"name": "n", "dataType": "FLOAT"}, "dataType"),
        ({"name": "n", "dataType": "NUMERIC", "minValue": 5, "maxValue": 1}, "maxValue"),
        ({"name": "n", "dataType": "NUMERIC", "minValue": "low"}, "minValue"),
        ({"name": "n", "dataType": "NUMERIC", "categories": [{"label": "a", "value": 1}]}, "categories"),
        ({"name": "n", "dataType": "CATEGORICAL"}, "categories"),
        ({"name": "n", "dataType": "CATEGORICAL", "categories": []}, "categories"),
        ({"name": "n", "dataType": "CATEGORICAL", "categories": [{"label": "a"}]}, "categories"),
        (
            {
                "name": "n",
                "dataType": "CATEGORICAL",
                "categories": [{"label": "a", "value": 1}, {"label": "a", "value": 2}],
            },
            "categories",
        ),
        (
            {"name": "n", "dataType": "CATEGORICAL", "categories": [{"label": "a", "value": 1}], "minValue": 0},
            "minValue",
        ),
        ({"name": "n", "dataType": "BOOLEAN", "categories": [{"label": "a", "value": 1}]}, "categories"),
        ({"name": "n", "dataType": "TEXT", "maxValue": 3}, "maxValue"),
    ],
)
async def test_create_validation_names_the_field(api: Api, body: dict[str, object], field: str) -> None:
    status, err = await api.call("POST", "/api/public/score-configs", json=body)
    assert status == 400, err
    assert f"'{field}'" in err["message"]
    listed = await api.ok("/api/public/score-configs")
    assert listed["data"] == []  # nothing half-created


async def test_malformed_body_and_404(api: Api) -> None:
    async with api.http.post(
        api.base_url + "/api/public/score-configs", data=b"{oops", headers=api.keys.headers
    ) as resp:
        assert resp.status == 400
    with pytest.raises(ApiError) as info:
        await api.sdk().score_configs.get_by_id("nope")
    assert info.value.status_code == 404
