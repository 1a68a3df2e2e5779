"""Every rule of planning, sending and reading embeddings, one at a time (reference §6).

The planner refuses bad input before any request (with the field and a hint that says what to
do), a request carries exactly the documented body (§6.1 native, §6.2 OpenAI-compatible), and
every answer shape is read into vectors in input order — or refused with the answer attached.
Requests that need a server go to the loopback :class:`~workersai.testing.WorkersAIServer`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LOOPBACK
from workersai import (
    AsyncWorkersAI,
    InvalidInputError,
    RetryPolicy,
    UnexpectedResponseError,
    Usage,
    WorkersAI,
)
from workersai._embeddings import (
    BGE_QUERY_INSTRUCTION,
    DEFAULT_BATCH_LIMIT,
    EmbeddingPlan,
    EmbeddingRequest,
    batch_limit,
    build_embedding_request,
    embedding_dimensions,
    parse_embedding_response,
    plan_embeddings,
    progress_bar,
    query_instruction_for,
    uses_query_document_inputs,
)
from workersai.models import ModelCatalog, ModelInfo, get_model_info
from workersai.results import EmbeddingResult
from workersai.testing import RecordedRequest, Reply, WorkersAIServer

BGE = "@cf/baai/bge-base-en-v1.5"
BGE_M3 = "@cf/baai/bge-m3"
GEMMA = "@cf/google/embeddinggemma-300m"
QWEN = "@cf/qwen/qwen3-embedding-0.6b"
UNKNOWN = "@cf/someone/new-embedder"  # not in the catalog

pytestmark = LOOPBACK


def texts(n: int) -> list[str]:
    return [f"t {i}" for i in range(n)]


def refusal(call: Any, *args: Any, **kwargs: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as err:
        call(*args, **kwargs)
    return err.value


# -- the plan: validated before any request ------------------------------------------------


def test_a_model_of_another_task_is_refused_with_a_suggestion() -> None:
    err = refusal(plan_embeddings, "@cf/meta/llama-3.1-8b-instruct-fast", ["t 0"])
    assert err.field == "model"
    assert err.message == (
        "@cf/meta/llama-3.1-8b-instruct-fast is a Text Generation model, not Text Embeddings"
    )
    assert err.hint == "Use an embedding model such as @cf/baai/bge-base-en-v1.5."


@pytest.mark.parametrize("model", [BGE, UNKNOWN])  # unknown models are not second-guessed
def test_embedding_and_unknown_models_are_planned(model: str) -> None:
    plan = plan_embeddings(model, ["t 0"])
    assert [r.body for r in plan.requests] == [{"text": ["t 0"]}]


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(b"t 0", "bytes"), ({"a": "t 0"}, "dict"), (3, "int"), (None, "NoneType")],
)
def test_texts_that_are_not_a_list_name_their_type(value: Any, type_name: str) -> None:
    err = refusal(plan_embeddings, BGE, value)
    assert err.field == "text"
    assert err.message == f"texts must be a list of strings, got {type_name}"


@pytest.mark.parametrize("call", [plan_embeddings, build_embedding_request])
def test_a_single_string_is_not_a_list_of_texts(call: Any) -> None:
    err = refusal(call, BGE, "hello")
    assert err.field == "text"
    assert err.message == "texts must be a list of strings, not a string"


def test_a_tuple_of_strings_is_accepted() -> None:
    plan = plan_embeddings(BGE, tuple(texts(3)))
    assert plan.total == 3
    assert plan.requests[0].body == {"text": texts(3)}


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"endpoint": "grpc"}, "endpoint", "endpoint must be 'native' or 'openai', got 'grpc'"),
        ({"kind": "passage"}, "kind", "kind must be 'query' or 'document', got 'passage'"),
        (
            {"query_instruction": 1},
            "query_instruction",
            "query_instruction must be True/False or the instruction text, got int",
        ),
        ({"batch_size": 0}, "batch_size", "batch_size must be a positive integer, got 0"),
    ],
)
def test_bad_options_are_refused_with_their_field(
    kwargs: dict[str, Any], field: str, message: str
) -> None:
    err = refusal(plan_embeddings, BGE, ["t 0"], **kwargs)
    assert err.field == field
    assert err.message == message


@pytest.mark.parametrize("value", ["", True, False])
def test_valid_query_instruction_values_are_accepted(value: bool | str) -> None:
    plan = plan_embeddings(BGE, ["t 0"], kind="query", query_instruction=value)
    expected = BGE_QUERY_INSTRUCTION + "t 0" if value is True else "t 0"
    assert plan.requests[0].body == {"text": [expected]}


def test_batch_size_one_is_valid() -> None:
    plan = plan_embeddings(BGE, texts(3), batch_size=1)
    assert [r.count for r in plan.requests] == [1, 1, 1]


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        ([3, 5, 7, 9, 11], "(5 bad text(s) at positions 3, 5, 7, 9, 11)"),
        ([3, 5, 7, 9, 11, 13], "(6 bad text(s) at positions 3, 5, 7, 9, 11, ...)"),
    ],
)
def test_bad_texts_are_listed_up_to_five_positions(bad: list[int], shown: str) -> None:
    batch = ["" if i in bad else f"t {i}" for i in range(20)]
    err = refusal(plan_embeddings, BGE, batch)
    assert err.message == (f"texts[3] is empty; Workers AI embeds only non-empty strings {shown}")
    assert err.field == "text.3"
    assert err.hint == (
        "Drop empty chunks before embedding them (or replace them with a placeholder)."
    )


def test_a_non_string_text_is_named_by_its_type() -> None:
    err = refusal(plan_embeddings, BGE, ["t 0", 2.5, ""])
    assert err.message.startswith("texts[1] is a float; ")
    assert "(2 bad text(s) at positions 1, 2)" in err.message


# -- splitting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "limit"),
    [(BGE, 100), (QWEN, 32), (GEMMA, DEFAULT_BATCH_LIMIT), (UNKNOWN, DEFAULT_BATCH_LIMIT)],
)
def test_batch_limit_is_the_catalogs_or_the_bge_default(model: str, limit: int) -> None:
    # gemma has no maxItems in its schema, so the documented BGE limit applies (§6.1)
    assert batch_limit(model) == limit
    plan = plan_embeddings(model, texts(limit + 1))
    assert [r.count for r in plan.requests] == [limit, 1]


def test_a_model_limit_above_100_is_used_in_full(isolated_catalog: ModelCatalog) -> None:
    # 100 is the fallback for models without a documented maxItems, not a cap on the others.
    isolated_catalog.update(
        [ModelInfo(id="@cf/test/wide-embedder", task="Text Embeddings", max_batch=250)]
    )
    assert batch_limit("@cf/test/wide-embedder") == 250
    plan = plan_embeddings("@cf/test/wide-embedder", texts(300))
    assert [r.count for r in plan.requests] == [250, 50]
    plan = plan_embeddings("@cf/test/wide-embedder", texts(300), batch_size=1000)
    assert [r.count for r in plan.requests] == [250, 50]
    plan = plan_embeddings("@cf/test/wide-embedder", texts(300), batch_size=120)
    assert [r.count for r in plan.requests] == [120, 120, 60]


def test_requests_hold_consecutive_slices_in_order() -> None:
    plan = plan_embeddings(BGE, texts(7), batch_size=3)
    assert [r.body["text"] for r in plan.requests] == [texts(7)[0:3], texts(7)[3:6], ["t 6"]]
    assert [r.count for r in plan.requests] == [3, 3, 1]
    assert plan.total == 7
    assert plan.model == BGE
    assert {r.route for r in plan.requests} == {f"run/{BGE}"}


def test_short_names_are_resolved_everywhere() -> None:
    plan = plan_embeddings("bge-base-en-v1.5", texts(2), endpoint="openai")
    assert plan.model == BGE
    assert plan.requests[0].model == BGE
    assert plan.requests[0].body["model"] == BGE


# -- request bodies (§6.1, §6.2) ----------------------------------------------------------


def test_openai_body_route_and_refusals() -> None:
    request = build_embedding_request("bge-base-en-v1.5", ["a", "b"], endpoint="openai")
    assert request.route == "v1/embeddings"
    assert request.body == {"model": BGE, "input": ["a", "b"]}
    assert request.count == 2
    err = refusal(build_embedding_request, BGE, ["a"], endpoint="openai", pooling="cls")
    assert (err.field, err.message) == ("pooling", "pooling needs the native endpoint")
    err = refusal(build_embedding_request, BGE, ["a", ""], endpoint="openai")
    assert (err.field, err.message) == ("input", "texts must be non-empty strings")


def test_a_non_string_item_is_refused_by_position() -> None:
    err = refusal(build_embedding_request, BGE, ["a", 7])
    assert err.field == "text.1"
    assert err.message == "texts[1] must be a string, got int"


def test_extra_fields_join_the_body() -> None:
    native = build_embedding_request(BGE, ["a"], pooling="cls", extra={"truncate_inputs": True})
    assert native.body == {"text": ["a"], "pooling": "cls", "truncate_inputs": True}
    openai = build_embedding_request(BGE, ["a"], endpoint="openai", extra={"dimensions": 8})
    assert openai.body == {"model": BGE, "input": ["a"], "dimensions": 8}


@pytest.mark.parametrize(
    ("kind", "instruction", "body"),
    [
        (None, None, {"documents": ["a"]}),
        ("document", "Find", {"documents": ["a"]}),  # the instruction is for queries only
        ("query", None, {"queries": ["a"]}),
        ("query", "", {"queries": ["a"]}),
        ("query", "Find", {"queries": ["a"], "instruction": "Find"}),
    ],
)
def test_qwen3_inputs(kind: Any, instruction: str | None, body: dict[str, Any]) -> None:
    assert build_embedding_request(QWEN, ["a"], kind=kind, instruction=instruction).body == body


def test_other_models_take_no_instruction_input() -> None:
    # BGE-style models get the instruction as a prefix of each text (from the plan)
    request = build_embedding_request(BGE, ["a"], kind="query", instruction="Find")
    assert request.body == {"text": ["a"]}


def test_only_models_taking_both_queries_and_documents_use_them() -> None:
    assert uses_query_document_inputs(get_model_info(QWEN))
    assert not uses_query_document_inputs(get_model_info(BGE_M3))
    assert not uses_query_document_inputs(None)


def test_the_input_is_checked_against_the_models_schema() -> None:
    # pooling is "mean" or "cls" (§6.1): refused before sending, naming the model.
    err = refusal(build_embedding_request, UNKNOWN, ["a"], pooling="max")
    assert err.field == "pooling"
    assert err.message.startswith(f"Invalid input for {UNKNOWN}: ")
    err = refusal(build_embedding_request, "bge-base-en-v1.5", ["a"], pooling="max")
    assert err.message.startswith(f"Invalid input for {BGE}: ")


# -- query instructions ---------------------------------------------------------------------


@pytest.mark.parametrize("off", [None, False, ""])
def test_no_query_instruction(off: bool | str | None) -> None:
    assert query_instruction_for(BGE, off) == ""
    assert query_instruction_for(UNKNOWN, off) == ""


def test_query_instruction_sources() -> None:
    assert query_instruction_for("bge-base-en-v1.5", True) == BGE_QUERY_INSTRUCTION
    assert query_instruction_for(GEMMA, True) == "task: search result | query: "
    assert query_instruction_for(BGE_M3, True) == ""
    assert query_instruction_for(QWEN, True) == ""  # the model applies its own default
    assert query_instruction_for(UNKNOWN, "Q: ") == "Q: "
    err = refusal(query_instruction_for, UNKNOWN, True)
    assert err.field == "query_instruction"
    assert err.message == f"No known query instruction for {UNKNOWN}"
    assert err.hint == "Pass the instruction text instead of True."


def test_gemma_queries_get_their_prefix_in_every_request() -> None:
    plan = plan_embeddings(GEMMA, texts(101), kind="query", query_instruction=True)
    sent = [t for r in plan.requests for t in r.body["text"]]
    assert sent == ["task: search result | query: " + t for t in texts(101)]


def test_qwen3_query_instruction_goes_into_every_request() -> None:
    plan = plan_embeddings(QWEN, texts(33), kind="query", query_instruction="Find the law")
    assert [r.body for r in plan.requests] == [
        {"queries": texts(33)[:32], "instruction": "Find the law"},
        {"queries": ["t 32"], "instruction": "Find the law"},
    ]
    plan = plan_embeddings(QWEN, ["t 0"], kind="query", query_instruction=False)
    assert plan.requests[0].body == {"queries": ["t 0"]}


# -- reading answers (§6.1, §6.2) ---------------------------------------------------------


def request_for(n: int, model: str = BGE) -> EmbeddingRequest:
    return build_embedding_request(model, texts(n))


def test_native_answer() -> None:
    body = {
        "success": True,
        "errors": [],
        "result": {
            "shape": [2, 3],
            "data": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            "pooling": "cls",
            "usage": {"prompt_tokens": 7, "total_tokens": 7},
        },
    }
    result = parse_embedding_response(body, request_for(2))
    assert result == EmbeddingResult(
        vectors=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        shape=[2, 3],
        pooling="cls",
        usage=Usage(7, 0, 7),
        model=BGE,
    )


def test_an_answer_without_shape_gets_the_vectors_shape() -> None:
    result = parse_embedding_response({"data": [[1.0, 2.0], [3.0, 4.0]]}, request_for(2))
    assert result.shape == [2, 2]
    assert result.pooling is None
    assert result.usage is None


def test_an_empty_answer_for_no_texts_has_shape_zero_by_zero() -> None:
    result = parse_embedding_response({"data": []}, request_for(0))
    assert (result.vectors, result.shape) == ([], [0, 0])


def test_a_pooling_that_is_not_a_string_is_dropped() -> None:
    result = parse_embedding_response({"data": [[1.0]], "pooling": 1}, request_for(1))
    assert result.pooling is None


def test_bge_m3_vectors_under_response() -> None:
    result = parse_embedding_response({"response": [[1.0], [2.0]]}, request_for(2, BGE_M3))
    assert result.vectors == [[1.0], [2.0]]
    # `data` wins when both are there
    both = {"data": [[3.0], [4.0]], "response": [[1.0], [2.0]]}
    assert parse_embedding_response(both, request_for(2, BGE_M3)).vectors == [[3.0], [4.0]]


def test_openai_items_are_ordered_by_index() -> None:
    data = [
        {"object": "embedding", "index": 2, "embedding": [2.0]},
        {"object": "embedding", "index": 0, "embedding": [0.0]},
        {"object": "embedding", "index": 1, "embedding": [1.0]},
    ]
    result = parse_embedding_response({"object": "list", "data": data}, request_for(3))
    assert result.vectors == [[0.0], [1.0], [2.0]]


@pytest.mark.parametrize(
    "indexes",
    # missing, bools (ints to Python), strings, floats: none of them reorders the list
    [(None, None), (True, False), ("1", "0"), (1.0, 0.0)],
)
def test_openai_items_without_a_usable_index_keep_list_order(indexes: tuple[Any, Any]) -> None:
    data = [{"embedding": [0.0]}, {"embedding": [1.0]}]
    for item, index in zip(data, indexes, strict=True):
        if index is not None:
            item["index"] = index
    result = parse_embedding_response({"data": data}, request_for(2))
    assert result.vectors == [[0.0], [1.0]]


def unreadable(body: Any, n: int = 2) -> UnexpectedResponseError:
    with pytest.raises(UnexpectedResponseError) as err:
        parse_embedding_response(body, request_for(n))
    assert err.value.model == BGE
    assert err.value.body == body
    assert err.value.status_code == 200
    return err.value


@pytest.mark.parametrize("result", [[[1.0], [2.0]], "vectors", None])
def test_an_answer_that_is_not_an_object_is_refused(result: Any) -> None:
    err = unreadable({"success": True, "result": result})
    assert err.message == f"Unexpected embeddings answer from {BGE}: {type(result).__name__}"


@pytest.mark.parametrize(
    "data",
    [[[1.0], "x"], [{"embedding": [1.0]}, {"embedding": None}], [[1.0], None]],
)
def test_a_vector_that_is_not_a_list_is_refused(data: Any) -> None:
    err = unreadable({"result": {"data": data}})
    assert err.message == f"Unexpected embeddings answer from {BGE}: a vector is not a list"


@pytest.mark.parametrize("answer", [{"data": [[1.0]]}, {"data": "x"}, {}])
def test_a_wrong_vector_count_is_refused(answer: dict[str, Any]) -> None:
    n = len(answer["data"]) if isinstance(answer.get("data"), list) else 0
    err = unreadable({"result": answer})
    assert err.message == f"{BGE} returned {n} vectors for 2 texts"


# -- assembling the requests' results -----------------------------------------------------


def test_assemble_joins_in_request_order_and_sums_usage() -> None:
    plan = plan_embeddings(BGE, texts(3), batch_size=1)
    parts = [
        EmbeddingResult([[0.0, 0.5]], pooling=None, usage=None),
        EmbeddingResult([[1.0, 0.5]], pooling="cls", usage=Usage(2, 0, 2)),
        EmbeddingResult([[2.0, 0.5]], pooling="mean", usage=Usage(3, 0, 3)),
    ]
    result = plan.assemble(parts)
    assert result == EmbeddingResult(
        vectors=[[0.0, 0.5], [1.0, 0.5], [2.0, 0.5]],
        shape=[3, 2],
        pooling="cls",  # the first one reported
        usage=Usage(5, 0, 5),
        model=BGE,
    )


def test_assemble_without_usage_or_pooling_reports_none() -> None:
    plan = plan_embeddings(BGE, texts(1))
    result = plan.assemble([EmbeddingResult([[1.0]])])
    assert result.usage is None
    assert result.pooling is None


@pytest.mark.parametrize(("model", "width"), [(BGE, 768), (BGE_M3, 1024), (UNKNOWN, 0)])
def test_assemble_of_nothing_has_the_models_width(model: str, width: int) -> None:
    result = EmbeddingPlan(model, [], 0).assemble([])
    assert result.shape == [0, width]
    assert result.vectors == []
    assert result.pooling is None


def test_dimensions_of_a_model_card_by_short_name() -> None:
    # The catalog knows bge-m3 but not its size: the model card's, also under its short name.
    assert get_model_info("bge-m3") is not None
    assert embedding_dimensions("bge-m3") == 1024
    assert embedding_dimensions("qwen3-embedding-0.6b") == 1024


# -- through the clients (loopback) -------------------------------------------------------


def answer_by_index(request: RecordedRequest) -> Reply:
    batch = request.json()["text"]
    data = [[float(t.rsplit(" ", 1)[-1])] for t in batch]
    return Reply.result({"shape": [len(batch), 1], "data": data, "pooling": 1})


@pytest.fixture
def emulator() -> Iterator[WorkersAIServer]:
    with WorkersAIServer(answer_by_index) as srv:
        yield srv


def test_progress_counts_texts_in_order(
    emulator: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    seen: list[tuple[int, int]] = []
    with WorkersAI("acct", "tok", base_url=emulator.base_url, retry_policy=fast_retries) as c:
        result = c.embed(
            BGE,
            texts(7),
            batch_size=3,
            max_concurrency=1,
            on_progress=lambda done, total: seen.append((done, total)),
        )
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert result.pooling is None  # the server's non-string pooling is dropped


async def test_async_progress_counts_texts_in_order(
    emulator: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    seen: list[tuple[int, int]] = []
    async with AsyncWorkersAI(
        "acct", "tok", base_url=emulator.base_url, retry_policy=fast_retries
    ) as c:
        result = await c.embed(
            BGE,
            texts(7),
            batch_size=3,
            max_concurrency=1,
            on_progress=lambda done, total: seen.append((done, total)),
        )
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert [v[0] for v in result.vectors] == [float(i) for i in range(7)]


def test_an_unknown_models_input_is_checked_before_sending(
    emulator: WorkersAIServer, fast_retries: RetryPolicy
) -> None:
    with WorkersAI("acct", "tok", base_url=emulator.base_url, retry_policy=fast_retries) as c:
        with pytest.raises(InvalidInputError, match="pooling"):
            c.embed(UNKNOWN, ["t 0"], pooling="max")  # type: ignore[arg-type]
    assert emulator.requests == []


# -- the progress bar -----------------------------------------------------------------------


class FakeBar:
    instances: list[FakeBar] = []

    def __init__(self, *, total: int, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = 0
        self.closed = False
        FakeBar.instances.append(self)

    def update(self, step: int) -> None:
        self.n += step

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_tqdm(monkeypatch: pytest.MonkeyPatch) -> list[FakeBar]:
    import tqdm.auto

    FakeBar.instances = []
    monkeypatch.setattr(tqdm.auto, "tqdm", FakeBar)
    return FakeBar.instances


@pytest.mark.parametrize(("texts_or_count", "total"), [(["a", "b", "c"], 3), (5, 5)])
def test_progress_bar_follows_the_done_count(
    fake_tqdm: list[FakeBar], texts_or_count: Any, total: int
) -> None:
    with progress_bar(texts_or_count, desc="Indexing") as on_progress:
        assert on_progress is not None
        bar = fake_tqdm[0]
        assert (bar.total, bar.desc, bar.unit) == (total, "Indexing", "text")
        on_progress(2, total)
        on_progress(3, total)
        assert bar.n == 3  # set to `done`, not incremented by it
        assert not bar.closed
    assert bar.closed
    with progress_bar(1):
        assert fake_tqdm[1].desc == "Embedding"


@pytest.mark.parametrize(
    ("texts_or_count", "enabled"),
    [(["a"], False), ([], True), (0, True), (-1, True), (iter(["a"]), True)],
)
def test_no_progress_bar(fake_tqdm: list[FakeBar], texts_or_count: Any, enabled: bool) -> None:
    with progress_bar(texts_or_count, enabled=enabled) as on_progress:
        assert on_progress is None
    assert fake_tqdm == []


def test_progress_bar_without_tqdm_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails
    with caplog.at_level(logging.WARNING, logger="workersai._embeddings"):
        with progress_bar(["a"]) as on_progress:
            assert on_progress is None
    assert "show_progress needs tqdm: pip install tqdm" in caplog.messages
