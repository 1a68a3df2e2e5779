"""Model catalog (bundled snapshot + /ai/models/search) and typed inputs checked before any
request is sent (reference §1.4, §3.1, §6.1)."""

from __future__ import annotations

import pytest

from workersai import (
    InvalidInputError,
    RetryPolicy,
    WorkersAI,
    get_catalog,
    get_model_info,
    resolve_model,
)
from workersai.models import ModelCatalog, ModelInfo, ParamRange, suggest_models, task_name
from workersai.schemas import validate_input
from workersai.testing import Reply, WorkersAIServer

LLAMA33 = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


def test_short_names_resolve() -> None:
    assert resolve_model("llama-3.3-70b-instruct-fp8-fast") == LLAMA33
    assert resolve_model("meta/llama-3.3-70b-instruct-fp8-fast") == LLAMA33
    assert resolve_model("bge-base-en-v1.5") == "@cf/baai/bge-base-en-v1.5"
    assert resolve_model("hermes-2-pro-mistral-7b") == "@hf/nousresearch/hermes-2-pro-mistral-7b"


def test_full_and_third_party_ids_pass_through_even_when_unknown() -> None:
    assert resolve_model("@cf/brand-new/model-9") == "@cf/brand-new/model-9"
    assert resolve_model("openai/gpt-5.5") == "openai/gpt-5.5"  # CL-2026-05 unified billing


def test_unknown_bare_name_is_rejected_with_suggestions() -> None:
    with pytest.raises(InvalidInputError) as info:
        resolve_model("llama-3-70b-instruct")
    # The closest id, llama-3.1-70b-instruct, was retired (§10.4): its replacement is offered.
    assert info.value.hint is not None and LLAMA33 in info.value.hint
    assert "@cf/meta/llama-3.1-70b-instruct" not in info.value.hint


def test_suggestions_rank_the_closest_first() -> None:
    assert suggest_models("@cf/meta/llama-3-70b-instruct")[0] == LLAMA33
    assert suggest_models("bge-base-en")[0] == "@cf/baai/bge-base-en-v1.5"
    assert suggest_models("completely-unrelated-xyz") == []


def test_catalog_facts_from_the_snapshot() -> None:
    llama = get_model_info(LLAMA33)
    assert llama is not None
    assert (llama.task, llama.context_window, llama.function_calling, llama.async_queue) == (
        "Text Generation",
        24000,
        True,
        True,
    )
    assert llama.price_per_token("input") == pytest.approx(0.29e-6)
    assert llama.price_per_token("output") == pytest.approx(2.25e-6)
    assert llama.params["top_p"].minimum == 0.001
    bge = get_model_info("@cf/baai/bge-small-en-v1.5")
    assert bge is not None and (bge.embedding_dimensions, bge.max_batch) == (384, 100)
    sdxl = get_model_info("@cf/stabilityai/stable-diffusion-xl-base-1.0")
    assert sdxl is not None and sdxl.output_format == "binary"
    assert get_model_info("@cf/meta/llama-3.1-8b-instruct").function_calling is False  # type: ignore[union-attr]
    assert get_model_info("@cf/meta/llama-4-scout-17b-16e-instruct").vision is True  # type: ignore[union-attr]
    assert get_model_info("@cf/meta/llama-3.1-8b-instruct").vision is False  # type: ignore[union-attr]
    assert get_catalog().as_of


def test_task_names() -> None:
    assert task_name("text-generation") == "Text Generation"
    assert task_name("Text Embeddings") == "Text Embeddings"
    assert {m.id for m in get_catalog().by_task("text-embeddings")} >= {
        "@cf/baai/bge-base-en-v1.5",
        "@cf/baai/bge-m3",
    }


def test_properties_parse_defensively() -> None:
    # models_search_result_object.json: values are strings, price is an array
    info = ModelInfo.from_search_result(
        {
            "name": "@cf/x/y",
            "task": {"name": "Text Generation"},
            "properties": [
                {"property_id": "context_window", "value": "8192"},
                {"property_id": "function_calling", "value": "true"},
                {
                    "property_id": "price",
                    "value": [
                        {"unit": "per M input tokens", "price": 0.1, "currency": "USD"},
                        {"unit": "nonsense", "price": "x"},
                    ],
                },
                {"property_id": "beta", "value": "false"},
                {"property_id": "odd", "value": None},
            ],
        }
    )
    assert (info.context_window, info.function_calling, info.beta, len(info.price)) == (
        8192,
        True,
        False,
        1,
    )


SEARCH_PAGE_1 = {
    "result": [
        {
            "id": "7a14",
            "name": LLAMA33,
            "task": {"name": "Text Generation"},
            "properties": [
                {"property_id": "context_window", "value": "24000"},
                {
                    "property_id": "price",
                    "value": [{"unit": "per M input tokens", "price": 0.3, "currency": "USD"}],
                },
            ],
        },
        {
            "id": "aa01",
            "name": "@cf/new/model-x",
            "task": {"name": "Text Generation"},
            "properties": [],
        },
    ],
    "success": True,
    "errors": [],
    "messages": [],
    "result_info": {"page": 1, "per_page": 2, "count": 2, "total_count": 3},
}
SEARCH_PAGE_2 = {
    "result": [
        {
            "id": "bb02",
            "name": "@cf/baai/bge-base-en-v1.5",
            "task": {"name": "Text Embeddings"},
            "properties": [{"property_id": "output_dimensions", "value": "768"}],
        }
    ],
    "success": True,
    "errors": [],
    "messages": [],
    "result_info": {"page": 2, "per_page": 2, "count": 1, "total_count": 3},
}


def test_list_models_walks_every_page_and_refreshes_the_catalog(
    server: WorkersAIServer, fast_retries: RetryPolicy, isolated_catalog: ModelCatalog
) -> None:
    server.enqueue(Reply.json(SEARCH_PAGE_1), Reply.json(SEARCH_PAGE_2))
    before = isolated_catalog.get(LLAMA33)
    assert before is not None and isolated_catalog.refreshed_at is None
    models = WorkersAI(
        "acct", "tok", base_url=server.base_url, retry_policy=fast_retries
    ).list_models(task="text-generation", per_page=2)
    assert [m.id for m in models] == [LLAMA33, "@cf/new/model-x", "@cf/baai/bge-base-en-v1.5"]
    assert [r.query for r in server.requests] == [
        {"per_page": "2", "task": "Text Generation", "page": "1"},
        {"per_page": "2", "task": "Text Generation", "page": "2"},
    ]
    assert all(r.method == "GET" and r.path.endswith("/ai/models/search") for r in server.requests)
    refreshed = isolated_catalog.get(LLAMA33)
    assert refreshed is not None and refreshed.price[0].price == 0.3
    assert refreshed.params == before.params  # schema facts kept from the snapshot
    assert "@cf/new/model-x" in isolated_catalog
    assert isolated_catalog.refreshed_at is not None


def test_model_schema(server: WorkersAIServer) -> None:
    server.enqueue(Reply.result({"input": {"type": "object"}, "output": {"type": "object"}}))
    schema = WorkersAI("acct", "tok", base_url=server.base_url).model_schema("bge-base-en-v1.5")
    assert schema == {"input": {"type": "object"}, "output": {"type": "object"}}
    assert server.requests[0].query == {"model": "@cf/baai/bge-base-en-v1.5"}


def test_catalog_is_isolated_per_instance() -> None:
    catalog = ModelCatalog([ModelInfo(id="@cf/a/b", task="Text Generation")])
    assert catalog.resolve("b") == "@cf/a/b" and len(catalog) == 1


# -- typed inputs ------------------------------------------------------------------------

MSG = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"temperature": 5.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"top_k": 51}, "top_k"),
        ({"top_k": 0}, "top_k"),
        ({"seed": 0}, "seed"),
        ({"seed": 10_000_000_000}, "seed"),
        ({"repetition_penalty": 2.5}, "repetition_penalty"),
        ({"frequency_penalty": -3}, "frequency_penalty"),
        ({"presence_penalty": 2.1}, "presence_penalty"),
        ({"top_p": 0}, "top_p"),  # llama-3.3's own range is 0.001–1
        ({"top_p": 1.5}, "top_p"),
        ({"temperature": "0.5"}, "temperature"),  # wrong type is an error, never coerced
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"tool_choice": "any"}, None),
    ],
)
def test_bad_generation_parameters_fail_before_any_request(
    server: WorkersAIServer, params: dict, field: str | None
) -> None:
    client = WorkersAI("acct", "tok", base_url=server.base_url)
    with pytest.raises(InvalidInputError) as info:
        client.run(LLAMA33, {"messages": MSG, **params})
    if field:
        assert info.value.field == field and field in str(info.value)
    assert server.requests == []


def test_model_specific_ranges_differ() -> None:
    # llama-3.1-8b's older schema allows top_p up to 2 and no negative penalties
    validate_input("@cf/meta/llama-3.1-8b-instruct", {"messages": MSG, "top_p": 1.5})
    with pytest.raises(InvalidInputError, match="frequency_penalty=-1 is out of range"):
        validate_input("@cf/meta/llama-3.1-8b-instruct", {"messages": MSG, "frequency_penalty": -1})


def test_prompt_xor_messages() -> None:
    with pytest.raises(InvalidInputError, match="exactly one of 'prompt' or 'messages'"):
        validate_input(LLAMA33, {"prompt": "a", "messages": MSG})
    with pytest.raises(InvalidInputError, match="exactly one"):
        validate_input(LLAMA33, {"temperature": 1})


def test_unknown_fields_pass_through_unchanged(server: WorkersAIServer) -> None:
    server.enqueue(Reply.result({"response": "ok"}))
    WorkersAI("acct", "tok", base_url=server.base_url).run(
        LLAMA33, {"messages": MSG, "temperature": 0, "brand_new_knob": {"x": [1]}}
    )
    assert server.requests[0].json() == {
        "messages": MSG,
        "temperature": 0,
        "brand_new_knob": {"x": [1]},
    }


def test_embedding_limits(server: WorkersAIServer) -> None:
    client = WorkersAI("acct", "tok", base_url=server.base_url)
    with pytest.raises(InvalidInputError, match="at most 100 texts"):
        client.run("@cf/baai/bge-base-en-v1.5", {"text": ["x"] * 101})
    with pytest.raises(InvalidInputError, match="pooling"):
        client.run("@cf/baai/bge-base-en-v1.5", {"text": ["x"], "pooling": "max"})
    with pytest.raises(InvalidInputError, match="non-empty"):
        client.run("@cf/baai/bge-base-en-v1.5", {"text": ["ok", ""]})
    assert server.requests == []


def test_validation_can_be_skipped_for_new_parameters(server: WorkersAIServer) -> None:
    server.enqueue(Reply.result({"response": "ok"}))
    WorkersAI("acct", "tok", base_url=server.base_url).run(
        LLAMA33, {"messages": MSG, "temperature": 9}, validate=False
    )
    assert server.requests[0].json()["temperature"] == 9


def test_run_rejects_stream_in_inputs() -> None:
    with pytest.raises(InvalidInputError, match=r"client\.stream"):
        WorkersAI("acct", "tok").run(LLAMA33, {"messages": MSG, "stream": True})


@pytest.mark.parametrize(
    ("low", "high", "value", "bounds"),
    [(None, 50, 51, "at most 50"), (1, None, 0, "at least 1"), (1, 50, 0, "allowed 1 to 50")],
)
def test_range_errors_name_only_the_bounds_that_exist(
    low: int | None, high: int | None, value: int, bounds: str
) -> None:
    # A task without a task schema: only the catalog's own ranges are checked.
    params = {"beam_size": ParamRange("integer", minimum=low, maximum=high)}
    info = ModelInfo(id="@cf/acme/model", task="Acme", params=params)
    with pytest.raises(InvalidInputError) as error:
        validate_input(info, {"beam_size": value})
    # never "allowed -inf to 50"
    assert str(error.value) == f"beam_size={value} is out of range for @cf/acme/model: {bounds}"


def test_catalog_range_errors_read_at_most() -> None:
    with pytest.raises(InvalidInputError) as error:
        validate_input("@cf/black-forest-labs/flux-1-schnell", {"prompt": "a fox", "steps": 9})
    assert str(error.value) == (
        "steps=9 is out of range for @cf/black-forest-labs/flux-1-schnell: at most 8"
    )
