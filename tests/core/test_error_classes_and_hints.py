"""Which typed error a failed answer becomes, and the hint that says what to do (wire
reference §2, §10.3, §10.4): Cloudflare's code first, the message's words second, the HTTP
status last."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from workersai import errors
from workersai._envelope import error_from_response
from workersai.models import ModelCatalog, ModelInfo, Retirement

CURRENT = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


def _body(code: Any, message: Any = "x") -> dict[str, Any]:
    return {"result": None, "success": False, "errors": [{"code": code, "message": message}]}


# -- the class: Cloudflare's code first ------------------------------------------------------

BY_CODE = [
    (2003, errors.RateLimitError),
    (2009, errors.AuthenticationError),
    (2021, errors.QuotaExceededError),
    (2041, errors.QuotaExceededError),
    (3003, errors.ModelInputError),
    (3006, errors.RequestTooLargeError),
    (3007, errors.RequestTimeoutError),
    (3008, errors.RequestTimeoutError),
    (3021, errors.RateLimitError),
    (3023, errors.PermissionDeniedError),
    (3036, errors.DailyLimitExceededError),
    (3040, errors.CapacityExceededError),
    (3041, errors.PermissionDeniedError),
    (3042, errors.ModelNotFoundError),
    (4006, errors.DailyLimitExceededError),
    (5004, errors.ModelInputError),
    (5005, errors.UnsupportedFeatureError),
    (5006, errors.ModelInputError),
    (5007, errors.ModelNotFoundError),
    (5016, errors.LicenseAgreementRequiredError),
    (5018, errors.PermissionDeniedError),
    (5019, errors.UnsupportedFeatureError),
    (5021, errors.ContextLengthExceededError),
    (5023, errors.UnsupportedFeatureError),
    (5025, errors.UnsupportedFeatureError),
    (5028, errors.ModelRetiredError),
    (5035, errors.PermissionDeniedError),
    (7000, errors.RouteNotFoundError),
    (7001, errors.UnsupportedFeatureError),
    (7003, errors.RouteNotFoundError),
    (10000, errors.AuthenticationError),
]


@pytest.mark.parametrize(("code", "cls"), BY_CODE)
@pytest.mark.parametrize("status", [200, 400, 409, 500])
def test_the_code_picks_the_class_whatever_the_status(
    status: int, code: int, cls: type[errors.APIError]
) -> None:
    for body in (_body(code), _body(str(code)), _body(None, f"AiError: {code}: x")):
        err = error_from_response(status, body)
        assert type(err) is cls and err.code == code and err.status_code == status


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (405, errors.UnsupportedFeatureError),
        (408, errors.RequestTimeoutError),
        (409, errors.ConflictError),
        (410, errors.ModelRetiredError),
        (413, errors.RequestTooLargeError),
        (422, errors.BadRequestError),
        (429, errors.RateLimitError),
        (402, errors.APIError),
        (499, errors.APIError),
        (500, errors.InternalServerError),
        (502, errors.InternalServerError),
        (599, errors.InternalServerError),
        # a 2xx `success: false` body (through proxies, in streams) is not an answer
        (200, errors.UnexpectedResponseError),
        (299, errors.UnexpectedResponseError),
        (199, errors.APIError),
        (300, errors.APIError),
    ],
)
def test_without_a_known_code_the_status_picks_the_class(
    status: int, cls: type[errors.APIError]
) -> None:
    for body in (_body(None, "no code here"), _body(9999, "an unknown code"), "plain text", None):
        assert type(error_from_response(status, body)) is cls


def test_the_first_known_code_decides() -> None:
    both = {"errors": [{"code": 9999, "message": "a"}, {"code": 3040, "message": "b"}]}
    assert type(error_from_response(400, both)) is errors.CapacityExceededError
    both["errors"].append({"code": 7003, "message": "c"})
    assert type(error_from_response(400, both)) is errors.CapacityExceededError


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("This model was deprecated on 2026-05-30", errors.ModelRetiredError),
        ("Model has been deprecated: use another", errors.ModelRetiredError),
        ("This model will be deprecated soon", None),  # not retired yet
        ("maximum context length is 24000 tokens", errors.ContextLengthExceededError),
        ("exceeded this model Context Window Limit (8192)", errors.ContextLengthExceededError),
    ],
)
@pytest.mark.parametrize("status", [400, 500])
def test_conditions_without_a_code_are_read_from_the_message(
    status: int, message: str, cls: type[errors.APIError] | None
) -> None:
    expected = cls or (errors.BadRequestError if status == 400 else errors.InternalServerError)
    assert type(error_from_response(status, _body(8007, message))) is expected
    # a code of its own wins over the words
    assert type(error_from_response(status, _body(3040, message))) is errors.CapacityExceededError


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (errors.WorkersAIError, False),
        (errors.APIError, False),
        (errors.BadRequestError, False),
        (errors.AuthenticationError, False),
        (errors.NotFoundError, False),
        (errors.RequestTimeoutError, True),
        (errors.ConflictError, True),
        (errors.RequestTooLargeError, False),
        (errors.RateLimitError, True),
        (errors.CapacityExceededError, True),
        (errors.QuotaExceededError, False),
        (errors.DailyLimitExceededError, False),
        (errors.InternalServerError, True),
        (errors.UnexpectedResponseError, False),
        (errors.APIConnectionError, True),
        (errors.APITimeoutError, True),
        (errors.StreamError, False),
        (errors.StreamTruncatedError, True),
    ],
)
def test_which_errors_are_worth_retrying(cls: type[errors.WorkersAIError], retryable: bool) -> None:
    assert cls.is_retryable is retryable


# -- the hint: what to do ----------------------------------------------------------------------


def _hint(status: int, body: Any, model: str | None = CURRENT) -> str | None:
    return error_from_response(status, body, model=model).hint


@pytest.mark.parametrize(
    ("status", "body", "model", "says"),
    [
        # what to set
        pytest.param(
            404,
            _body(7003),
            "@cf/meta/llama-3-70b-instruct",
            [
                "CLOUDFLARE_ACCOUNT_ID",
                "model id '@cf/meta/llama-3-70b-instruct'",
                "Did you mean: @cf/",
            ],
            id="7003",
        ),
        pytest.param(
            400, _body(7000), None, ["CLOUDFLARE_ACCOUNT_ID", "model id 'the model'."], id="7000"
        ),
        pytest.param(
            401, _body(10000), None, ["CLOUDFLARE_API_TOKEN", "'Workers AI Read'"], id="10000"
        ),
        pytest.param(
            401, _body(None), None, ["CLOUDFLARE_API_TOKEN", "'Workers AI Read'"], id="401"
        ),
        pytest.param(
            401,
            _body(2009),
            None,
            ["GatewayOptions(id=..., authorization='<gateway token>')"],
            id="2009",
        ),
        # what to call
        pytest.param(
            403,
            _body(5016),
            "@cf/meta/llama-3.2-11b-vision-instruct",
            ["client.agree_to_license('@cf/meta/llama-3.2-11b-vision-instruct')"],
            id="5016",
        ),
        pytest.param(400, _body(5025), None, ["method='function_calling'"], id="5025"),
        pytest.param(400, _body(5023), None, ["request without streaming"], id="5023"),
        pytest.param(405, _body(7001), None, ["/ai/models/search"], id="7001"),
        pytest.param(
            400, _body(5005), CURRENT, [f"{CURRENT} does not accept LoRA", "-lora"], id="5005"
        ),
        # what will and will not help
        pytest.param(429, _body(3036), None, ["00:00 UTC", "Workers Paid"], id="3036"),
        pytest.param(429, _body(4006), None, ["00:00 UTC", "Workers Paid"], id="4006"),
        pytest.param(429, _body(3040), CURRENT, [CURRENT, "max_retries"], id="3040"),
        pytest.param(
            403, _body(5035), CURRENT, [f"{CURRENT} needs the Workers Paid plan"], id="5035"
        ),
        pytest.param(429, _body(2021), None, ["AI Gateway → Credits"], id="2021"),
        pytest.param(429, _body(2041), None, ["spend-limit", "gateway's settings"], id="2041"),
        pytest.param(429, _body(2003), None, ["raise the gateway's limit"], id="2003"),
        pytest.param(429, _body(3021), None, ["add a rate limiter"], id="3021"),
        pytest.param(429, _body(None), None, ["add a rate limiter"], id="429"),
        pytest.param(413, _body(3006), None, ["fewer texts per request"], id="3006"),
        pytest.param(413, _body(None), None, ["fewer texts per request"], id="413"),
        pytest.param(500, _body(None), None, ["Try again shortly"], id="500"),
        pytest.param(503, _body(9999), None, ["Try again shortly"], id="503"),
        pytest.param(
            400,
            _body(5021, "exceeded this model context window limit (8192)"),
            CURRENT,
            [f"{CURRENT}'s context window (8192 tokens)", "lower max_tokens"],
            id="5021",
        ),
        pytest.param(
            400,
            _body(8007, "AiError: maximum context length is 24000 tokens"),
            None,
            ["the model's context window (24000 tokens)", "trim the prompt"],
            id="8007 context",
        ),
        pytest.param(
            400, _body(5021, "too long"), None, ["the model's context window: trim"], id="no size"
        ),
        pytest.param(403, _body(3041), CURRENT, [f"not allowed to use {CURRENT}"], id="3041"),
        pytest.param(403, _body(5018), CURRENT, [f"not allowed to use {CURRENT}"], id="5018"),
        pytest.param(
            404,
            _body(5007),
            "@cf/meta/llama-3-70b",
            ["does not know the model '@cf/meta/llama-3-70b'", "Did you mean"],
            id="5007",
        ),
        pytest.param(404, _body(3042), None, ["does not know the model 'the model'."], id="3042"),
    ],
)
def test_each_condition_gets_a_hint_that_says_what_to_do(
    status: int, body: Any, model: str | None, says: list[str]
) -> None:
    err = error_from_response(status, body, model=model)
    assert err.hint is not None
    for words in says:
        assert words in err.hint
        assert words in str(err)  # the hint is part of what the user reads


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, _body(None)),
        (409, _body(None)),
        (403, _body(3023)),
        (408, _body(3007)),  # a timeout: nothing to add (not "too large")
        (404, "Not Found"),
        (200, _body(9999)),
    ],
)
def test_no_hint_when_there_is_nothing_to_say(status: int, body: Any) -> None:
    err = error_from_response(status, body)
    assert err.hint is None and "Hint:" not in str(err)


def test_hints_that_name_a_model_without_one_still_read() -> None:
    assert _hint(404, _body(7003), None) == (
        "No route for that URI: check the account id (CLOUDFLARE_ACCOUNT_ID, the 32-character "
        "id from the dashboard URL, not a zone id or email) and the model id 'the model'."
    )
    assert _hint(404, _body(5007), "@cf/zzz/qqqqqqqq") == (
        "Workers AI does not know the model '@cf/zzz/qqqqqqqq'."  # nothing close: no "Did you mean"
    )


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        (
            "AiError: Bad input: Error: Type mismatch of '/messages/0/content', 'array' not in 'string'",
            "This model accepts only plain-text message content: send strings, not content "
            "parts (images need a vision model such as @cf/meta/llama-4-scout-17b-16e-instruct).",
        ),
        (
            "Type mismatch of '/messages/0/role', 'array' not in 'string'",  # no "content"
            "Workers AI rejected the input field '/messages/0/role'",
        ),
        (
            "oneOf at '/' not met: required properties at '/' are 'prompt', required properties at '/' are 'messages'",
            "Send either 'prompt' or 'messages' (exactly one).",
        ),
        (
            "required properties at '/' are 'prompt'",  # only one of them named
            "Workers AI rejected the input field '/'",
        ),
        (
            "required properties are 'messages'",
            "Workers AI rejected the input; check the fields against the model's schema.",
        ),
        (
            "'prompt' and 'messages' at once",  # no "required properties"
            "Workers AI rejected the input; check the fields against the model's schema.",
        ),
        (
            "Type mismatch of '/temperature', 'string' not in 'number'",
            "Workers AI rejected the input field '/temperature'; check its type and range.",
        ),
        (
            "Value at '/max_tokens' out of range",
            "Workers AI rejected the input field '/max_tokens'",
        ),
        (
            "Bad input",
            "Workers AI rejected the input; check the fields against the model's schema.",
        ),
    ],
)
@pytest.mark.parametrize("code", [5006, 5004, 3003])
def test_input_errors_name_the_field_or_the_rule(code: int, message: str, hint: str) -> None:
    err = error_from_response(400, _body(code, message))
    assert isinstance(err, errors.ModelInputError)
    assert err.hint is not None and err.hint.startswith(hint)


def test_an_input_error_names_the_field_across_several_messages() -> None:
    body = {
        "errors": [
            {"code": 5006, "message": "Bad input"},
            {"code": 5006, "message": "Type mismatch of '/top_p', 'string' not in 'number'"},
        ]
    }
    err = error_from_response(400, body)
    assert isinstance(err, errors.ModelInputError) and err.field == "/top_p"
    assert err.hint == "Workers AI rejected the input field '/top_p'; check its type and range."
    plain = error_from_response(400, _body(5006, "Bad input"))
    assert isinstance(plain, errors.ModelInputError) and plain.field is None


# -- retired models ------------------------------------------------------------------------------


@pytest.fixture
def retired_catalog(monkeypatch: pytest.MonkeyPatch) -> ModelCatalog:
    from workersai import models

    on = date(2026, 5, 30)
    catalog = ModelCatalog(
        [
            ModelInfo(
                "@cf/test/old",
                "Text Generation",
                retired=Retirement(on, "@cf/test/new", "Its successor."),
            ),
            ModelInfo("@cf/test/older", "Text Generation", retired=Retirement(on, "@cf/test/new")),
            ModelInfo("@cf/test/gone", "Text Generation", retired=Retirement(on)),
            ModelInfo("@cf/test/new", "Text Generation"),
            ModelInfo("@cf/test/news", "Text Generation"),
        ]
    )
    monkeypatch.setattr(models, "_catalog", catalog)
    return catalog


@pytest.mark.parametrize(
    ("model", "hint", "replacement"),
    [
        (
            "@cf/test/old",
            "@cf/test/old was retired on 2026-05-30: use @cf/test/new instead. Its successor.",
            "@cf/test/new",
        ),
        (
            "old",  # a short name: the catalog's full id in the hint
            "@cf/test/old was retired on 2026-05-30: use @cf/test/new instead. Its successor.",
            "@cf/test/new",
        ),
        (
            "@cf/test/older",
            "@cf/test/older was retired on 2026-05-30: use @cf/test/new instead.",
            "@cf/test/new",
        ),
        (
            "@cf/test/gone",
            "Workers AI retired this model: choose a current one (`workersai models` lists them, "
            "or WorkersAI().list_models()).",
            None,
        ),
        (
            "@cf/test/newz",  # unknown to the catalog: the closest current ones
            "Workers AI retired this model: choose a current one (`workersai models` lists them, "
            "or WorkersAI().list_models()). Did you mean: @cf/test/new, @cf/test/news?",
            None,
        ),
        (
            None,
            "Workers AI retired this model: choose a current one (`workersai models` lists them, "
            "or WorkersAI().list_models()).",
            None,
        ),
    ],
)
@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, _body(5028, "This model was deprecated on 2026-05-30.")),
        (400, _body(None, "Model has been deprecated")),
        (410, _body(None, "Gone")),
    ],
)
def test_a_retired_model_names_its_replacement(
    retired_catalog: ModelCatalog,
    status: int,
    body: Any,
    model: str | None,
    hint: str,
    replacement: str | None,
) -> None:
    err = error_from_response(status, body, model=model)
    assert isinstance(err, errors.ModelRetiredError)
    assert (err.hint, err.replacement) == (hint, replacement)


def test_only_a_retirement_error_names_a_replacement(retired_catalog: ModelCatalog) -> None:
    # a retired model can fail for another reason (capacity): that error is not the place
    # for the catalog's replacement, whose attribute only ModelRetiredError declares
    err = error_from_response(429, _body(3040), model="@cf/test/old")
    assert isinstance(err, errors.CapacityExceededError)
    assert not hasattr(err, "replacement")


def test_a_retirement_said_by_one_of_several_entries_is_read_word_by_word() -> None:
    # the entries' messages are read as one text: a word at the end of one entry is still
    # a whole word ("deprecated", then the next entry)
    body = {"errors": [{"message": "This model was deprecated"}, {"message": "See the docs."}]}
    err = error_from_response(400, body)
    assert isinstance(err, errors.ModelRetiredError)
    assert err.message == ("Workers AI returned HTTP 400: This model was deprecated; See the docs.")


def test_a_current_model_in_a_retired_error_has_no_replacement(
    retired_catalog: ModelCatalog,
) -> None:
    err = error_from_response(400, _body(5028), model="@cf/test/new")
    assert isinstance(err, errors.ModelRetiredError) and err.replacement is None


# -- what the error carries -----------------------------------------------------------------------


def test_an_error_carries_the_status_codes_request_id_model_and_body() -> None:
    body = {
        "errors": [
            {"code": 3040, "message": "Capacity temporarily exceeded"},
            {"message": "no code"},
            {"code": "7000", "message": "No route"},
        ]
    }
    err = error_from_response(
        429, body, headers={"cf-ray": "8f1e2d3c4b5a6978-LHR", "retry-after": "7"}, model=CURRENT
    )
    assert err.message == (
        f"Workers AI returned HTTP 429 for {CURRENT}: 3040: Capacity temporarily exceeded; "
        "no code; 7000: No route"
    )
    assert err.errors == (
        errors.CloudflareErrorDetail(3040, "Capacity temporarily exceeded"),
        errors.CloudflareErrorDetail(None, "no code"),
        errors.CloudflareErrorDetail(7000, "No route"),
    )
    assert (err.code, err.codes) == (3040, (3040, 7000))
    assert (err.request_id, err.model, err.body) == ("8f1e2d3c4b5a6978-LHR", CURRENT, body)
    # the transport sets these once it knows them (parse_retry_after, the retry count)
    assert (err.retry_after, err.retries_taken) == (None, 0)
    assert repr(err) == "CapacityExceededError(status_code=429, codes=[3040, 7000])"
    assert str(err) == f"{err.message}\nHint: {err.hint}"


def test_an_error_without_details_says_so() -> None:
    for body in ("", "   ", None, {}, {"success": False}, [1, 2], {"errors": [], "error": None}):
        err = error_from_response(503, body)
        assert err.message == "Workers AI returned HTTP 503: no error details in the response body"
        assert (err.errors, err.code, err.codes, err.request_id, err.model) == (
            (),
            None,
            (),
            None,
            None,
        )


@pytest.mark.parametrize(
    ("body", "summary", "code"),
    [
        pytest.param({"error": "model overloaded"}, "model overloaded", None, id="error string"),
        pytest.param({"error": "  "}, "no error details in the response body", None, id="blank"),
        pytest.param({"errors": ["boom", " "]}, "boom", None, id="errors of strings"),
        pytest.param(
            {"error": [{"code": 2003, "message": "Rate limited"}]},
            "2003: Rate limited",
            2003,
            id="AI Gateway error list",
        ),
        pytest.param(
            {"error": {"type": "invalid_request_error", "message": "Invalid tool"}},
            "Invalid tool",
            None,
            id="OpenAI error object",
        ),
        pytest.param(
            {"error": {"code": "3040", "description": "Capacity"}},
            "3040: Capacity",
            3040,
            id="description, string code",
        ),
        pytest.param(
            {"errors": [{"code": 5006, "message": "a"}], "error": "b"},
            "5006: a",
            5006,
            id="errors first",
        ),
        pytest.param(
            {"errors": [], "error": "b"},
            "b",
            None,
            id="an empty errors array: error",
        ),
        pytest.param(
            {"errors": [{"code": 3040}]},
            "3040: ",
            3040,
            id="a code without a message",
        ),
        pytest.param(
            {"internalCode": 3040, "code": 500, "message": "busy"},
            "3040: busy",
            3040,
            id="AI Gateway stored response",
        ),
        pytest.param({"code": 7003, "description": "no route"}, "7003: no route", 7003, id="code"),
        pytest.param({"code": "5006"}, "5006: ", 5006, id="a string code alone"),
        pytest.param({"code": 7003.0}, "no error details in the response body", None, id="float"),
        pytest.param(
            {"message": "AiError: 5006: Error: bad"},
            "5006: AiError: 5006: Error: bad",
            5006,
            id="a proxy's message",
        ),
        pytest.param({"message": 42}, "42", None, id="a message that is not text"),
        pytest.param(
            {"errors": [{"code": True, "message": "3040: busy"}]},
            "3040: 3040: busy",
            3040,
            id="a boolean is no code",
        ),
        pytest.param(
            {"errors": [{"code": "٣٠٤٠", "message": "busy"}]},
            "busy",
            None,
            id="non-ASCII digits are no code",
        ),
        pytest.param(
            {"errors": [{"code": "abc", "message": "ERROR 3040: busy"}]},
            "3040: ERROR 3040: busy",
            3040,
            id="an unreadable code: the message's",
        ),
    ],
)
def test_error_bodies_of_every_shape_give_their_codes_and_messages(
    body: Any, summary: str, code: int | None
) -> None:
    err = error_from_response(400, body)
    assert err.message == f"Workers AI returned HTTP 400: {summary}"
    assert err.code == code


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("AiError: 5006: Error: x", 5006),
        ("InferenceUpstreamError: 3040: busy", 3040),
        ("ERROR 3040: busy", 3040),
        ("AiError: AiError: 3040: busy", 3040),
        ("InferenceUpstreamError [AiError]: 3010: x", 3010),
        ("AiError 5023: x", 5023),
        ("10000: Authentication error", 10000),
        ("Status 3040: not a prefix", None),
        ("123: too short", None),
        ("3040 without a colon", None),
    ],
)
def test_a_code_embedded_at_the_start_of_the_message_is_found(
    message: str, code: int | None
) -> None:
    assert error_from_response(400, _body(None, message)).code == code


@pytest.mark.parametrize(
    ("message", "inner"),
    [
        (
            'AiError: AiError: {"object": "error", "message": "max_tokens too large", "code": 400} (a1b2)',
            "max_tokens too large",
        ),
        ('upstream: {"error": {"message": " nested "}}', "nested"),
        ('{"message": "a bare JSON error"}', "a bare JSON error"),
        ('AiError: {"message": "no {placeholder} here", "code": 400}', "no {placeholder} here"),
        ('upstream: {"error": "flat"}', 'upstream: {"error": "flat"}'),
        ('upstream: {"message": "  "}', 'upstream: {"message": "  "}'),
        ('upstream: {"message": 7}', 'upstream: {"message": 7}'),
        ("upstream: [1, 2]", "upstream: [1, 2]"),
        ("upstream: {not json", "upstream: {not json"),
    ],
)
def test_an_upstream_servers_own_message_is_pulled_out(message: str, inner: str) -> None:
    err = error_from_response(400, _body(8007, message))
    assert err.errors[0].message == inner


def test_a_non_json_body_is_shown_as_a_short_readable_excerpt() -> None:
    page = "<html><body>" + "<p>Bad &amp; Gateway</p>\n\n" * 100 + "</body></html>"
    err = error_from_response(502, page)
    snippet = ("Bad & Gateway " * 100).strip()
    assert err.message == f"Workers AI returned HTTP 502: non-JSON response body: {snippet[:300]}…"
    assert error_from_response(502, "x" * 300).message.endswith(": " + "x" * 300)
    assert error_from_response(502, "x" * 301).message.endswith(": " + "x" * 300 + "…")


# -- the error classes themselves -----------------------------------------------------------------


def test_an_error_reads_as_its_message_and_its_hint() -> None:
    assert str(errors.WorkersAIError("went wrong")) == "went wrong"
    assert str(errors.WorkersAIError("went wrong", hint="")) == "went wrong"
    err = errors.WorkersAIError("went wrong", hint="do this")
    assert (str(err), err.message, err.hint) == (
        "went wrong\nHint: do this",
        "went wrong",
        "do this",
    )
    bad = errors.InvalidInputError("bad temperature", field="temperature", hint="use 0..5")
    assert (bad.field, bad.hint, str(bad)) == (
        "temperature",
        "use 0..5",
        "bad temperature\nHint: use 0..5",
    )
    assert errors.InvalidInputError("bad").field is None


def test_errors_built_outside_the_transport_start_with_no_retries() -> None:
    connection = errors.APIConnectionError("reset", hint="check the proxy")
    assert (connection.retries_taken, connection.hint) == (0, "check the proxy")
    timeout = errors.APITimeoutError("slow")
    assert (timeout.retries_taken, timeout.hint) == (0, None)
    api = errors.APIError("x", status_code=500, retry_after=7.0, hint="wait")
    assert (api.retries_taken, api.retry_after, api.hint) == (0, 7.0, "wait")
    assert (api.errors, api.code, api.codes, api.request_id, api.model, api.body) == (
        (),
        None,
        (),
        None,
        None,
        None,
    )


def test_an_unexpected_response_is_a_successful_status_by_default() -> None:
    err = errors.UnexpectedResponseError("no image", model=CURRENT, hint="retry")
    assert (err.status_code, err.model, err.hint) == (200, CURRENT, "retry")
    assert errors.UnexpectedResponseError("x", status_code=204).status_code == 204


def test_a_truncated_stream_keeps_the_text_received() -> None:
    err = errors.StreamTruncatedError("cut", partial_text="Hello, wor", hint="retry")
    assert (err.partial_text, err.hint, str(err)) == ("Hello, wor", "retry", "cut\nHint: retry")
    assert errors.StreamTruncatedError("cut").partial_text == ""


def test_the_message_is_the_exception_argument_and_the_hint_follows_it_in_str() -> None:
    # logging and pickling read `args`; str() adds the hint on its own line
    error = errors.InvalidInputError("max_tokens must be positive", hint="Pass 1 or more.")
    assert error.args == ("max_tokens must be positive",)
    assert str(error) == "max_tokens must be positive\nHint: Pass 1 or more."
