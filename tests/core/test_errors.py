"""Typed errors carrying Cloudflare's codes and hints (reference §2, examples/errors_table.json)."""

from __future__ import annotations

import pytest

import workersai.errors as errors_module
from workersai import RetryPolicy, WorkersAI
from workersai._envelope import error_from_response
from workersai.testing import Reply, WorkersAIServer

LLAMA = "@cf/meta/llama-3.1-8b-instruct"
USER = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("status", "code", "message", "cls", "hint_part", "retryable"),
    [
        (
            404,
            7003,
            "Could not route to /client/v4/accounts/acct/ai/run/@cf/meta/llama-3-70b-instruct, perhaps your object identifier is invalid?",
            errors_module.RouteNotFoundError,
            "account id",
            False,
        ),
        (
            400,
            7003,
            "Could not route to ..., perhaps your object identifier is invalid?",
            errors_module.RouteNotFoundError,
            "model id",
            False,
        ),
        (400, 7000, "No route for that URI", errors_module.RouteNotFoundError, "account id", False),
        (
            405,
            7001,
            "GET not supported for requested URI.",
            errors_module.UnsupportedFeatureError,
            "models/search",
            False,
        ),
        (
            401,
            10000,
            "Authentication error",
            errors_module.AuthenticationError,
            "Workers AI Read",
            False,
        ),
        (
            403,
            10000,
            "Authentication error",
            errors_module.AuthenticationError,
            "CLOUDFLARE_API_TOKEN",
            False,
        ),
        (
            400,
            5006,
            "AiError: Bad input: Error: oneOf at '/' not met, 0 matches: required properties at '/' are 'prompt', required properties at '/' are 'messages'",
            errors_module.ModelInputError,
            "either 'prompt' or 'messages'",
            False,
        ),
        (
            400,
            5006,
            "AiError: Bad input: Error: Type mismatch of '/messages/0/content', 'array' not in 'string'",
            errors_module.ModelInputError,
            "plain-text message content",
            False,
        ),
        (
            400,
            5007,
            "No such model @cf/meta/llama-3-70b-instruct or task",
            errors_module.ModelNotFoundError,
            "Did you mean",
            False,
        ),
        (
            403,
            5016,
            "User has not agreed to Llama3.2 model terms",
            errors_module.LicenseAgreementRequiredError,
            "agree_to_license",
            False,
        ),
        (
            405,
            5005,
            "The model does not support LoRa inference",
            errors_module.UnsupportedFeatureError,
            "-lora",
            False,
        ),
        (
            400,
            5023,
            "JSON Schema mode is not supported with stream mode",
            errors_module.UnsupportedFeatureError,
            "without streaming",
            False,
        ),
        (
            400,
            5025,
            "This model doesn't support JSON Schema",
            errors_module.UnsupportedFeatureError,
            "function_calling",
            False,
        ),
        (
            413,
            3006,
            "Request is too large",
            errors_module.RequestTooLargeError,
            "fewer texts",
            False,
        ),
        (408, 3007, "Request timeout", errors_module.RequestTimeoutError, None, True),
        (
            429,
            3036,
            "You have used up your daily free allocation of 10,000 neurons.",
            errors_module.DailyLimitExceededError,
            "00:00 UTC",
            False,
        ),
        (
            429,
            3040,
            "Capacity temporarily exceeded, please try again.",
            errors_module.CapacityExceededError,
            "out of capacity",
            True,
        ),
        (429, None, "Rate limited.", errors_module.RateLimitError, "rate limiter", True),
        (
            403,
            3041,
            "The account is not allowed to access this model",
            errors_module.PermissionDeniedError,
            "not allowed",
            False,
        ),
        (401, 2009, "Unauthorized", errors_module.AuthenticationError, "GatewayOptions", False),
    ],
)
def test_code_to_class_and_hint(
    status: int,
    code: int | None,
    message: str,
    cls: type[errors_module.APIError],
    hint_part: str | None,
    retryable: bool,
) -> None:
    body = {
        "result": None,
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
    }
    err = error_from_response(
        status,
        body,
        headers={"cf-ray": "8f1e2d3c4b5a6978-LHR"},
        model="@cf/meta/llama-3-70b-instruct",
    )
    assert type(err) is cls
    assert (
        err.status_code == status and err.code == code and err.request_id == "8f1e2d3c4b5a6978-LHR"
    )
    assert err.is_retryable is retryable
    if hint_part:
        assert err.hint is not None and hint_part in err.hint
        assert hint_part in str(err)  # the hint is part of what the user reads


def test_7003_hint_suggests_the_nearest_known_model() -> None:
    err = error_from_response(
        404,
        {"errors": [{"code": 7003, "message": "Could not route"}]},
        model="@cf/meta/llama-3-70b-instruct",
    )
    assert err.hint is not None
    # llama-3.1-70b-instruct is the closest id but retired (§10.4): its replacement comes first
    suggested = err.hint.split("Did you mean:")[1]
    assert "@cf/meta/llama-3.3-70b-instruct-fp8-fast" in suggested
    assert "@cf/meta/llama-3.1-70b-instruct" not in suggested


def test_several_errors_are_all_kept() -> None:
    # §1.3: POST …/ai/v1 (no suffix) → 400 with errors 7003 + 7000
    body = {
        "result": {},
        "success": False,
        "errors": [
            {"code": 7003, "message": "Could not route"},
            {"code": 7000, "message": "No route for that URI"},
        ],
        "messages": [],
    }
    err = error_from_response(400, body)
    assert err.codes == (7003, 7000)
    assert "7003: Could not route; 7000: No route for that URI" in err.message


def test_code_embedded_in_the_message_is_found() -> None:
    # §2.1 GWC: "InferenceUpstreamError: 3040: ..." with no numeric code field
    err = error_from_response(
        500,
        {"errors": [{"message": "InferenceUpstreamError: 3040: Capacity temporarily exceeded"}]},
    )
    assert isinstance(err, errors_module.CapacityExceededError) and err.code == 3040


def test_5006_field_pointer() -> None:
    err = error_from_response(
        400,
        {
            "errors": [
                {
                    "code": 5006,
                    "message": "AiError: Bad input: Error: Type mismatch of '/temperature', 'string' not in 'number'",
                }
            ]
        },
    )
    assert isinstance(err, errors_module.ModelInputError)
    assert err.field == "/temperature"


def test_openai_style_error_object() -> None:
    err = error_from_response(400, {"error": {"message": "Invalid tool", "code": 8001}})
    assert (
        isinstance(err, errors_module.BadRequestError)
        and err.code == 8001
        and "Invalid tool" in str(err)
    )


def test_html_body_from_a_proxy_is_still_typed() -> None:
    html = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"
    err = error_from_response(502, html)
    assert isinstance(err, errors_module.InternalServerError) and err.code is None
    assert "non-JSON response body: 502 Bad Gateway 502 Bad Gateway cloudflare" in err.message
    assert "<" not in err.message


def test_empty_body() -> None:
    err = error_from_response(503, "")
    assert isinstance(err, errors_module.InternalServerError) and "no error details" in err.message


def test_errors_through_the_client(server: WorkersAIServer, fast_retries: RetryPolicy) -> None:
    server.enqueue(Reply.html(404, "<html>Not Found</html>"))
    client = WorkersAI("acct", "tok", base_url=server.base_url, retry_policy=fast_retries)
    with pytest.raises(errors_module.NotFoundError) as info:
        client.chat(LLAMA, USER)
    assert info.value.model == LLAMA and info.value.body == "<html>Not Found</html>"
    assert repr(info.value) == "NotFoundError(status_code=404, codes=[])"


def test_every_error_is_a_workersai_error_and_input_errors_are_value_errors() -> None:
    for name in errors_module.__all__:
        obj = getattr(errors_module, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, errors_module.WorkersAIError), name
    assert issubclass(errors_module.InvalidInputError, ValueError)
