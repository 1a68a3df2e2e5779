"""The ``workersai`` command against a scripted loopback server (``workersai.testing``).

Each test runs ``main(argv)`` in-process and checks the exit code, what was printed and what
reached the server: the requests are the documented ones (wire reference §1.2, §6, §8), user
mistakes are two plain lines (error + hint) with exit code 1, bad arguments exit with 2, and
nothing ever prints a traceback.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import REPLAY_ACCOUNT_ID
from workersai.cli import main
from workersai.testing import Reply, WorkersAIServer, envelope

FIXTURES = Path(__file__).parent.parent / "fixtures"
CHAT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
ROUTE_NOT_FOUND = [
    {
        "code": 7003,
        "message": "Could not route to /client/v4/accounts/x/ai/run/m, perhaps your object "
        "identifier is invalid?",
    },
    {"code": 7000, "message": "No route for that URI"},
]


@pytest.fixture(autouse=True)
def _point_at(server: WorkersAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", server.base_url)


def _models_page(count: int = 1) -> Reply:
    items = [
        {"id": f"id-{i}", "name": f"@cf/x/model-{i}", "task": {"name": "Text Generation"}}
        for i in range(count)
    ]
    body = envelope(items)
    body["result_info"] = {"page": 1, "per_page": count, "count": count, "total_count": 90}
    return Reply.json(body)


# -- chat ---------------------------------------------------------------------------------


def test_chat_streams_the_answer(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # native SSE with `p` padding and the usage trailer (§3.3)
    server.enqueue(
        Reply.sse(
            [
                {"response": "Bon", "p": "abcdef"},
                {"response": "jour !", "p": "abc"},
                {"response": "", "usage": USAGE},
            ]
        )
    )
    assert main(["chat", "Say hello in French"]) == 0
    assert capsys.readouterr().out == "Bonjour !\n"
    (request,) = server.requests
    assert request.model == CHAT_MODEL
    assert request.json() == {
        "messages": [{"role": "user", "content": "Say hello in French"}],
        "stream": True,
    }


def test_chat_sends_only_what_was_given(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.enqueue(Reply.result({"response": "Hi.", "usage": USAGE}))
    argv = ["chat", "hi", "--no-stream", "-s", "Be brief.", "--max-tokens", "20", "-m"]
    assert main([*argv, "llama-3.1-8b-instruct-fast"]) == 0
    assert capsys.readouterr().out == "Hi.\n"
    (request,) = server.requests
    assert request.model == "@cf/meta/llama-3.1-8b-instruct-fast"  # short name resolved
    assert request.json() == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "max_tokens": 20,
    }


def test_chat_json_output(server: WorkersAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    # legacy tool-call shape: response null, no id, string-typed values (§3.2.2)
    server.enqueue(
        Reply.result(
            {
                "response": None,
                "tool_calls": [{"name": "f", "arguments": {"x": "1"}}],
                "usage": USAGE,
            }
        )
    )
    assert main(["chat", "hi", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["text"] == ""
    assert payload["usage"]["total_tokens"] == 15
    assert payload["tool_calls"][0]["name"] == "f"
    assert payload["tool_calls"][0]["id"].startswith("call_")


def test_chat_reads_the_prompt_from_stdin(
    server: WorkersAIServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("What is 2+2?\n"))
    server.enqueue(Reply.result({"response": "4"}))
    assert main(["chat", "-", "--no-stream"]) == 0
    assert server.requests[0].json()["messages"][0]["content"] == "What is 2+2?"
    assert capsys.readouterr().out == "4\n"


def test_chat_usage_is_printed_to_stderr(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.enqueue(Reply.result({"response": "Hi.", "usage": USAGE}))
    assert main(["chat", "hi", "--no-stream", "--usage"]) == 0
    out, err = capsys.readouterr()
    assert out == "Hi.\n"
    row = next(line for line in err.splitlines() if line.startswith(CHAT_MODEL))
    assert row.split()[1:4] == ["1", "12", "3"]  # requests, input, output tokens
    assert "est. USD" in err


def test_api_error_is_two_plain_lines(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.enqueue(Reply.json(envelope(None, errors=ROUTE_NOT_FOUND), status=404))
    assert main(["chat", "hi", "--no-stream"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ") and "[7003]" in lines[0]
    assert any(line.startswith("hint: ") and "account id" in line for line in lines)
    assert "Traceback" not in err


def test_missing_credentials_name_the_variables(
    monkeypatch: pytest.MonkeyPatch, server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    assert main(["chat", "hi"]) == 1
    error, hint = capsys.readouterr().err.strip().splitlines()
    assert "CLOUDFLARE_API_TOKEN" in error and "CF_AI_API_TOKEN" in error
    # ... and where a newcomer without credentials can see it all work
    assert hint.endswith(
        "To try the package first, `workersai demo` runs offline, without credentials."
    )
    assert server.requests == []


def test_unknown_short_model_name_is_a_usage_error(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["chat", "hi", "--model", "llama-3-70b-instruct"])
    assert exit_info.value.code == 2
    assert "Did you mean" in capsys.readouterr().err
    assert server.requests == []


def test_empty_prompt_is_refused_before_any_request(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "  "]) == 1
    assert "prompt is empty" in capsys.readouterr().err
    assert server.requests == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["chat", "hi", "--temperature", "9"],
            "argument --temperature: must be from 0 to 5, not 9",
        ),
        (["chat", "hi", "--temperature", "nan"], "argument --temperature: must be a finite number"),
        # the catalog's range for this model is 0-2: checked for the model given
        (
            ["chat", "hi", "-m", "@cf/moonshotai/kimi-k2.5", "--temperature", "3"],
            "argument --temperature: @cf/moonshotai/kimi-k2.5 takes 0 to 2, not 3",
        ),
        (["chat", "hi", "--timeout", "-1"], "argument --timeout: must be more than 0 seconds"),
        (["chat", "hi", "--timeout", "inf"], "argument --timeout: must be a finite number"),
        (["doctor", "--timeout", "0"], "argument --timeout: must be more than 0 seconds, not 0"),
        (["chat", "hi", "--max-tokens", "0"], "argument --max-tokens: must be at least 1, not 0"),
        (["chat", "hi", "--max-retries", "-1"], "argument --max-retries: must be at least 0"),
        (["embed", "f.txt", "--max-concurrency", "0"], "argument --max-concurrency: must be at"),
        (["embed", "f.txt", "--batch-size", "0"], "argument --batch-size: must be at least 1"),
        (["image", "a fox", "-o", "x.png", "--steps", "9"], "argument --steps: steps=9 is out"),
        (["image", "a fox", "-o", "x.png", "--seed", "-1"], "argument --seed: must be at least 0"),
        (
            ["image", "a fox", "-o", "x.png", "-m", "llama-3.1-8b-instruct-fast"],
            "argument --model: @cf/meta/llama-3.1-8b-instruct-fast is a Text Generation model, not "
            "Text-to-Image. Use an image model such as @cf/black-forest-labs/flux-1-schnell.",
        ),
        (
            ["image", "a fox", "-o", "x.png", "-m", "stable-diffusion-xl-base-1.0", "--width", "9"],
            "argument --width: width=9 is out of range for "
            "@cf/stabilityai/stable-diffusion-xl-base-1.0: allowed 256 to 2048",
        ),
    ],
)
def test_values_out_of_range_are_usage_errors_with_the_range(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("usage: workersai ")
    assert server.requests == []


@pytest.mark.parametrize(
    "argv",
    [
        ["chat", "hi", "--no-stream", "--temperature", "0", "--timeout", "0.5"],
        ["chat", "hi", "--no-stream", "--temperature", "5", "--max-retries", "0"],
        ["image", "a fox", "-o", "{out}", "-m", "stable-diffusion-xl-base-1.0", "--seed", "0"],
    ],
)
def test_values_at_the_edges_of_their_range_are_accepted(
    server: WorkersAIServer, tmp_path: Path, argv: list[str]
) -> None:
    server.enqueue(
        Reply.result({"response": "Hi."})
        if argv[0] == "chat"
        else Reply.binary((FIXTURES / "photo.png").read_bytes(), "image/png")
    )
    assert main([a.format(out=tmp_path / "x.png") for a in argv]) == 0
    assert len(server.requests) == 1


# -- embed --------------------------------------------------------------------------------


def _echo_embeddings(request: object) -> Reply:
    # Each vector encodes its text's line number, so the test can check the order.
    texts = request.json()["text"]  # type: ignore[attr-defined]
    vectors = [[float(t.split()[-1]), 0.5] for t in texts]
    return Reply.result({"shape": [len(texts), 2], "data": vectors, "pooling": "mean"})


def test_embed_a_file_to_jsonl(
    server: WorkersAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [f"text {i}" if i % 50 else "" for i in range(1, 252)]  # 5 blank lines
    source = tmp_path / "chunks.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    server.handler = _echo_embeddings
    out = tmp_path / "vectors.jsonl"
    assert main(["embed", str(source), "--out", str(out), "--no-progress"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 246
    assert [r["line"] for r in records] == [i for i in range(1, 252) if i % 50]
    assert all(r["embedding"][0] == float(r["line"]) for r in records)  # order kept
    assert sorted(len(r.json()["text"]) for r in server.requests) == [46, 100, 100]  # §6.1
    err = capsys.readouterr().err
    assert "embedded 246 texts" in err and "5 blank lines skipped" in err


def test_embed_from_stdin_to_stdout(
    server: WorkersAIServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("line 1\nline 2\n"))
    server.handler = _echo_embeddings
    assert main(["embed", "-", "--no-progress", "-m", "bge-small-en-v1.5"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in records] == ["line 1", "line 2"]
    assert server.requests[0].model == "@cf/baai/bge-small-en-v1.5"


def test_embed_missing_file(server: WorkersAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "no/such/file.txt"]) == 1
    assert "No such file: no/such/file.txt" in capsys.readouterr().err
    assert server.requests == []


# -- image ---------------------------------------------------------------------------------


def test_image_from_flux_is_saved_as_the_suffix_says(
    server: WorkersAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # flux-1-schnell answers {"image": base64 JPEG} inside the envelope (§8.1)
    jpeg = (FIXTURES / "photo.jpg").read_bytes()
    server.enqueue(Reply.result({"image": base64.b64encode(jpeg).decode()}))
    out = tmp_path / "lighthouse.png"
    assert main(["image", "a lighthouse", "--out", str(out), "--steps", "4"]) == 0
    assert server.requests[0].json() == {"prompt": "a lighthouse", "steps": 4}
    saved = Image.open(out)
    assert saved.format == "PNG"
    assert saved.size == Image.open(FIXTURES / "photo.jpg").size
    assert "converted to PNG" in capsys.readouterr().err


def test_image_without_pillow_keeps_the_paid_picture(
    server: WorkersAIServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The README's line on a bare install: flux answers JPEG, the file name asks for PNG and
    # Pillow is not there to convert. The picture is saved as JPEG next to it, in one line.
    for name in {"PIL", "PIL.Image", *(n for n in sys.modules if n.startswith("PIL."))}:
        monkeypatch.setitem(sys.modules, name, None)  # `import PIL` fails
    jpeg = (FIXTURES / "photo.jpg").read_bytes()
    server.enqueue(Reply.result({"image": base64.b64encode(jpeg).decode()}))
    asked = tmp_path / "lighthouse.png"
    assert main(["image", "a lighthouse at dusk", "--out", str(asked)]) == 0
    assert (tmp_path / "lighthouse.jpg").read_bytes() == jpeg
    assert not asked.exists()
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"saved {tmp_path / 'lighthouse.jpg'}: 64x64 JPEG image")
    assert line.endswith(f"— not {asked}: converting JPEG to PNG needs Pillow (pip install pillow)")
    assert len(server.requests) == 1


def test_image_from_sdxl_binary_png(server: WorkersAIServer, tmp_path: Path) -> None:
    png = (FIXTURES / "photo.png").read_bytes()
    server.enqueue(Reply.binary(png, "image/png"))  # raw PNG bytes, no envelope (§8.1)
    out = tmp_path / "out.png"
    argv = ["image", "a fox", "-o", str(out), "-m", "stable-diffusion-xl-base-1.0"]
    assert main([*argv, "--width", "512", "--height", "512", "--negative-prompt", "blur"]) == 0
    assert out.read_bytes() == png
    assert server.requests[0].json() == {
        "prompt": "a fox",
        "negative_prompt": "blur",
        "width": 512,
        "height": 512,
    }


def test_image_parameter_the_model_does_not_take(
    server: WorkersAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bad argument for the chosen model: a usage error (exit 2), before the paid request.
    with pytest.raises(SystemExit) as exit_info:
        main(["image", "a fox", "-o", str(tmp_path / "x.png"), "--width", "512"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --width: @cf/black-forest-labs/flux-1-schnell does not accept width" in err
    assert server.requests == []


# -- transcribe ------------------------------------------------------------------------------

TURBO_ANSWER = {
    "transcription_info": {"language": "en", "duration": 1.2},
    "text": "Hello world.",
    "word_count": 2,
    "segments": [
        {
            "start": 0.0,
            "end": 1.2,
            "text": "Hello world.",
            "words": [
                {"word": "Hello", "start": 0.0, "end": 0.5},
                {"word": "world.", "start": 0.6, "end": 1.2},
            ],
        }
    ],
    "vtt": "WEBVTT\n\n00:00.000 --> 00:01.200\nHello world.\n",
}


@pytest.mark.parametrize(
    ("flag", "expected"),
    [(None, "Hello world.\n"), ("--vtt", TURBO_ANSWER["vtt"] + "\n")],
)
def test_transcribe(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str], flag: str | None, expected: str
) -> None:
    server.enqueue(Reply.result(TURBO_ANSWER))
    argv = ["transcribe", str(FIXTURES / "speech.wav"), "--language", "en"]
    assert main([*argv, *([flag] if flag else [])]) == 0
    assert capsys.readouterr().out == expected
    body = server.requests[0].json()  # turbo takes base64 JSON (§8.3)
    assert base64.b64decode(body["audio"]) == (FIXTURES / "speech.wav").read_bytes()
    assert body["language"] == "en"


def test_transcribe_json(server: WorkersAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.enqueue(Reply.result(TURBO_ANSWER))
    assert main(["transcribe", str(FIXTURES / "speech.wav"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["language"] == "en"
    assert [w["word"] for w in payload["words"]] == ["Hello", "world."]


def test_transcribe_missing_file(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transcribe", "talk.mp3"]) == 1
    assert "No such file: talk.mp3" in capsys.readouterr().err


# -- models --------------------------------------------------------------------------------


def test_models_from_the_bundled_catalog(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--task", "text-embeddings"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["@cf/baai/bge-base-en-v1.5"][-1 if "$" not in out else 0]
    assert "768" in rows["@cf/baai/bge-base-en-v1.5"]
    assert all(model_row[1] == "Text" for model_row in rows.values())  # "Text Embeddings"
    assert "@cf/meta/llama-3.3-70b-instruct-fp8-fast" not in rows
    assert server.requests == []  # bundled: no request


def test_models_json(server: WorkersAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json", "--search", "llama-3.3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_id = {r["id"]: r for r in rows}
    llama = by_id["@cf/meta/llama-3.3-70b-instruct-fp8-fast"]
    assert llama["function_calling"] is True
    assert llama["context_window"] == 24000  # the catalog's `context_window` property (§3.1)


def test_models_live_pages_through_the_search(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str], isolated_catalog: object
) -> None:
    items = [{"id": "1", "name": "@cf/x/a", "task": {"name": "Text Generation"}}]
    first = envelope(items)
    first["result_info"] = {"page": 1, "per_page": 1, "count": 1, "total_count": 2}
    second = envelope([{"id": "2", "name": "@cf/x/b", "task": {"name": "Text Generation"}}])
    second["result_info"] = {"page": 2, "per_page": 1, "count": 1, "total_count": 2}
    server.enqueue(Reply.json(first), Reply.json(second))
    assert main(["models", "--live", "--task", "text-generation"]) == 0
    out = capsys.readouterr().out
    assert "@cf/x/a" in out and "@cf/x/b" in out
    assert [r.query.get("page") for r in server.requests] == ["1", "2"]
    assert server.requests[0].query["task"] == "Text Generation"


def test_models_unknown_task(server: WorkersAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--task", "telepathy"]) == 1
    assert "Text Generation" in capsys.readouterr().err  # lists the tasks there are


# -- doctor --------------------------------------------------------------------------------


def test_doctor_all_good(server: WorkersAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.enqueue(
        _models_page(),
        Reply.result({"response": "pong", "usage": USAGE}),
        Reply.result({"shape": [1, 768], "data": [[0.1] * 768], "pooling": "mean"}),
    )
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert (
        f"account id: {REPLAY_ACCOUNT_ID[:4]}…{REPLAY_ACCOUNT_ID[-4:]} from CLOUDFLARE_ACCOUNT_ID"
        in out
    )
    assert "'pong'" in out and "768 dimensions" in out
    assert out.strip().endswith("everything works")
    search, chat, embed = server.requests
    assert search.path.endswith("/ai/models/search") and search.query["per_page"] == "1"
    assert chat.json()["max_tokens"] == 8
    assert embed.json() == {"text": ["ping"]}


def test_doctor_wrong_account_id(
    server: WorkersAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # §1.1: a malformed account id gives 404 / 7003, for every request
    server.handler = lambda request: Reply.json(envelope(None, errors=ROUTE_NOT_FOUND), status=404)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert out.count("FAIL") == 3
    assert "the account id is wrong" in out
    assert "model id is wrong" not in out


def test_doctor_wrong_model_id(server: WorkersAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    # The account works (the model list answers) but the chat model has no route: the model id.
    server.enqueue(
        _models_page(),
        Reply.json(envelope(None, errors=ROUTE_NOT_FOUND), status=404),
        Reply.result({"shape": [1, 2], "data": [[0.1, 0.2]], "pooling": "mean"}),
    )
    assert main(["doctor", "--model", "@cf/meta/llama-3-70b-instruct"]) == 1
    out = capsys.readouterr().out
    chat_line = next(line for line in out.splitlines() if "FAIL  chat" in line)
    fix = out.splitlines()[out.splitlines().index(chat_line) + 1]
    # the closest id, llama-3.1-70b-instruct, is retired: its replacement is suggested
    assert "model id is wrong" in fix and "@cf/meta/llama-3.3-70b-instruct-fp8-fast" in fix
    assert "1 check failed" in out


def test_doctor_token_rejected(server: WorkersAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    denied = envelope(None, errors=[{"code": 10000, "message": "Authentication error"}])
    server.handler = lambda request: Reply.json(denied, status=401)
    assert main(["doctor"]) == 1
    assert "Workers AI Read" in capsys.readouterr().out


def test_doctor_credentials_from_a_file_and_missing(
    server: WorkersAIServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("secret-from-file\n")
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID")
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN_FILE", str(token_file))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"API token: 16 characters from CLOUDFLARE_API_TOKEN_FILE ({token_file})" in out
    assert "FAIL  account id: not set" in out
    assert "doctor: to try the package first, `workersai demo` runs offline" in out
    assert "secret-from-file" not in out
    assert server.requests == []  # nothing is sent without both credentials


# -- the entry points ----------------------------------------------------------------------


def test_python_dash_m_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workersai", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    for command in ("chat", "embed", "image", "transcribe", "models", "doctor", "demo"):
        assert command in done.stdout


@pytest.mark.parametrize(
    "command", ["chat", "embed", "image", "transcribe", "models", "doctor", "demo"]
)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: workersai {command}" in capsys.readouterr().out


def test_the_demo_shares_the_output_helpers_without_an_import_cycle() -> None:
    # cli/__init__ runs the demo; the demo and the commands print through cli/_output. Neither
    # the demo nor _output imports the cli package itself, anywhere (no deferred import either).
    cli = Path(__file__).parents[2] / "workersai" / "cli"
    for module in ("demo.py", "_output.py"):
        tree = ast.parse((cli / module).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert "workersai.cli" not in imported, module
        if module == "_output.py":
            assert "workersai.cli.demo" not in imported
