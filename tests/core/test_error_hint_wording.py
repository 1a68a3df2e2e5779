"""The whole text of every hint a failed answer gets, pinned (wire reference §2, §10.3).

A hint is what the user reads next to the error and acts on: the variable to set, the call
to make, whether retrying helps. ``test_error_classes_and_hints.py`` checks which condition
gets which hint by its key words; here each hint is compared whole, so a reworded or broken
sentence (a lost "Retrying will not help", a model name missing) is a visible change. The
model suggestions come from a small catalog, so the hints do not follow the bundled one.
"""

from __future__ import annotations

from typing import Any

import pytest

from workersai import errors
from workersai._envelope import error_from_response
from workersai.models import ModelCatalog, ModelInfo

MODEL = "@cf/test/chat-70b"
TOKEN = (
    "Check CLOUDFLARE_API_TOKEN: it must be an API token (not the Global API Key) with the "
    "'Workers AI Read' permission ('Workers AI Edit' for fine-tunes) on this account."
)
RATE = (
    "Rate limited by Workers AI (e.g. 300 requests/min for text generation, 3000 for "
    "embeddings). Requests are retried with backoff; lower the concurrency or add a rate "
    "limiter."
)
DAILY = (
    "The daily free allocation of 10,000 neurons is used up; it resets at 00:00 UTC. "
    "Retrying now will not help: upgrade to Workers Paid or wait for the reset."
)
TOO_LARGE = "The request is too large: send fewer texts per request or a smaller image/audio file."


def _body(code: Any, message: str = "x") -> dict[str, Any]:
    return {"result": None, "success": False, "errors": [{"code": code, "message": message}]}


@pytest.fixture(autouse=True)
def small_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    from workersai import models

    catalog = ModelCatalog(
        [
            ModelInfo(MODEL, "Text Generation"),
            ModelInfo("@cf/test/chat-8b", "Text Generation"),
        ]
    )
    monkeypatch.setattr(models, "_catalog", catalog)


@pytest.mark.parametrize(
    ("status", "body", "model", "hint"),
    [
        pytest.param(
            404,
            _body(7003),
            "@cf/test/chat-7b",
            "No route for that URI: check the account id (CLOUDFLARE_ACCOUNT_ID, the 32-character"
            " id from the dashboard URL, not a zone id or email) and the model id "
            "'@cf/test/chat-7b'. Did you mean: @cf/test/chat-70b, @cf/test/chat-8b?",
            id="7003",
        ),
        pytest.param(
            404,
            _body(3042),
            "@cf/test/chat-7b",
            "Workers AI does not know the model '@cf/test/chat-7b'. Did you mean: "
            "@cf/test/chat-70b, @cf/test/chat-8b?",
            id="3042",
        ),
        pytest.param(
            401,
            _body(2009),
            None,
            "This AI Gateway is authenticated: pass its token as "
            "GatewayOptions(id=..., authorization='<gateway token>').",
            id="2009",
        ),
        pytest.param(
            403,
            _body(5035),
            MODEL,
            f"{MODEL} needs the Workers Paid plan: upgrade the account (Workers & Pages → "
            "Plans) or choose a model without it. Retrying will not help.",
            id="5035",
        ),
        pytest.param(
            400,
            _body(5021, "exceeded this model context window limit (8192)"),
            MODEL,
            f"The prompt plus max_tokens do not fit {MODEL}'s context window (8192 tokens): "
            "trim the prompt (older turns, long documents) or lower max_tokens. Retrying the "
            "same request will not help.",
            id="5021",
        ),
        pytest.param(
            429,
            _body(2021),
            None,
            "The AI Gateway's credits (Unified Billing) are used up: add credits in the "
            "dashboard (AI Gateway → Credits). Retrying will not help.",
            id="2021",
        ),
        pytest.param(
            429,
            _body(2041),
            None,
            "An AI Gateway spend-limit rule was reached: raise it in the gateway's settings or "
            "wait for its window to pass. Requests are not retried.",
            id="2041",
        ),
        pytest.param(
            429,
            _body(2003),
            None,
            "Rate limited by the AI Gateway's own rate-limiting rule. Requests are retried "
            "with backoff; raise the gateway's limit or lower the concurrency.",
            id="2003",
        ),
        pytest.param(401, _body(10000), None, TOKEN, id="10000"),
        pytest.param(401, _body(None), None, TOKEN, id="401"),
        pytest.param(
            403,
            _body(5016),
            MODEL,
            f"'{MODEL}' requires agreeing to its license once per account: call "
            f'client.agree_to_license(\'{MODEL}\') (it sends {{"prompt": "agree"}}) after '
            "reading the terms, then retry.",
            id="5016",
        ),
        pytest.param(429, _body(3036), None, DAILY, id="3036"),
        pytest.param(429, _body(4006), None, DAILY, id="4006"),
        pytest.param(
            429,
            _body(3040),
            MODEL,
            f"Workers AI is out of capacity for {MODEL} right now. Requests are retried with "
            "backoff (max_retries); retry later or choose another model.",
            id="3040",
        ),
        pytest.param(
            400,
            _body(3030),
            None,
            "Workers AI's safety filter flagged the output: change the prompt (or the input "
            "image). The same input is flagged again, so it was not retried.",
            id="3030",
        ),
        pytest.param(
            400,
            _body(5024),
            MODEL,
            f"{MODEL} could not produce JSON that meets the response_format: simplify the "
            "schema, raise max_tokens, or ask for the structure through a tool "
            "(method='function_calling').",
            id="5024",
        ),
        pytest.param(
            400,
            _body(8006),
            None,
            "A forced tool on a reasoning model ran out of tokens before its call: raise "
            "max_tokens (a few thousand leaves room to think) or use tool_choice='auto'.",
            id="8006",
        ),
        pytest.param(
            400,
            _body(5005),
            MODEL,
            f"{MODEL} does not accept LoRA adapters; use a base model whose id ends in -lora.",
            id="5005",
        ),
        pytest.param(
            400,
            _body(5023),
            None,
            "JSON-schema mode cannot stream on Workers AI: request without streaming.",
            id="5023",
        ),
        pytest.param(
            400,
            _body(5025),
            MODEL,
            f"{MODEL} does not support JSON Schema output; use tool calling "
            "(method='function_calling') or plain JSON mode.",
            id="5025",
        ),
        pytest.param(413, _body(3006), None, TOO_LARGE, id="3006"),
        pytest.param(413, _body(None), None, TOO_LARGE, id="413"),
        pytest.param(
            405,
            _body(7001),
            None,
            "That endpoint does not exist for this method; use /ai/models/search to list models.",
            id="7001",
        ),
        pytest.param(429, _body(3021), None, RATE, id="3021"),
        pytest.param(429, _body(None), None, RATE, id="429"),
        pytest.param(
            500,
            _body(None),
            None,
            "Workers AI had a server error; it was retried. Try again shortly.",
            id="500",
        ),
        pytest.param(
            403,
            _body(3041),
            MODEL,
            f"This account is not allowed to use {MODEL} (a private or partner model).",
            id="3041",
        ),
        *(
            pytest.param(
                400,
                _body(code, "Bad input"),
                None,
                "Workers AI rejected the input; check the fields against the model's schema.",
                id=str(code),
            )
            for code in (5006, 5004, 3003, 3010)
        ),
    ],
)
def test_the_whole_hint_reads_as_written(
    status: int, body: Any, model: str | None, hint: str
) -> None:
    err = error_from_response(status, body, model=model)
    assert err.hint == hint
    assert str(err) == f"{err.message}\nHint: {hint}"


def test_a_hint_without_a_model_names_the_model_generically() -> None:
    # 'the model' stands in for the name; no suggestions without a name to compare
    assert error_from_response(403, _body(5018)).hint == (
        "This account is not allowed to use the model (a private or partner model)."
    )
    err = error_from_response(404, _body(5007))
    assert isinstance(err, errors.ModelNotFoundError)
    assert err.hint == "Workers AI does not know the model 'the model'."


def test_a_token_error_among_the_entries_gets_the_token_hint_whatever_came_first() -> None:
    # nothing else can succeed until the token is right: its hint wins over the first
    # entry's (which still picks the class)
    body = {"errors": [{"code": 3040, "message": "busy"}, {"code": 10000, "message": "auth"}]}
    err = error_from_response(401, body)
    assert isinstance(err, errors.CapacityExceededError)
    assert err.hint == TOKEN
