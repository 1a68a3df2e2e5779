"""The ``workersai`` command: chat, embed, image, transcribe, models, doctor, demo and generate.

Every command but ``demo`` uses the core client only. Errors a user can fix (missing
credentials, a wrong model id, a file that does not exist) are printed as two short lines,
the error and what to do, with exit code 1 — never a traceback. Bad arguments exit with 2.

Examples::

    workersai chat "Write a haiku about the sea" --usage
    workersai embed chunks.txt --out vectors.jsonl
    workersai image "a lighthouse at dusk" --out lighthouse.png
    workersai transcribe talk.mp3 --vtt
    workersai models --task text-generation
    workersai doctor
    workersai demo
    workersai generate prompts.jsonl --out answers.jsonl   (see workersai.cli.generate)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from workersai._client import WorkersAI
from workersai._config import (
    ACCOUNT_ID_ENV,
    ACCOUNT_ID_FILE_ENV,
    API_TOKEN_ENV,
    API_TOKEN_FILE_ENV,
    resolve_base_url,
)
from workersai._version import __version__
from workersai.cli._output import CommandError, describe_error, err, report, save_image
from workersai.cli.generate import add_generate_command
from workersai.errors import (
    APIConnectionError,
    AuthenticationError,
    InvalidInputError,
    MissingCredentialsError,
    PermissionDeniedError,
    RouteNotFoundError,
    WorkersAIError,
)
from workersai.images import DEFAULT_IMAGE_MODEL, check_image_params
from workersai.models import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_EMBEDDING_MODEL,
    ModelInfo,
    get_catalog,
    get_model_info,
    resolve_model,
)
from workersai.tasks import SPEECH_RECOGNITION_MODEL
from workersai.usage import UsageTracker, track_usage

__all__ = ["main"]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and something went wrong (API error, missing file, ...)
EXIT_USAGE = 2  # argparse's code for bad arguments
EXIT_INTERRUPTED = 130

# Where a user without credentials yet can see everything work.
_TRY_OFFLINE = "`workersai demo` runs offline, without credentials"


# --------------------------------------------------------------------------------------
# Output helpers (the shared ones are in _output, which the demo imports too)
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _usage_report(enabled: bool) -> Iterator[UsageTracker | None]:
    """With ``--usage``, record the command's requests and print their totals to stderr."""
    if not enabled:
        yield None
        return
    with track_usage() as tracker:
        yield tracker
    err()
    err(tracker.summary())


def _read_text_arg(value: str) -> str:
    """A prompt argument; ``-`` reads standard input."""
    if value == "-":
        return sys.stdin.read().strip()
    return value


def _read_input_file(path: str) -> IO[str]:
    if path == "-":
        return sys.stdin
    file = Path(path)
    if not file.is_file():
        raise CommandError(
            f"No such file: {path}", "Pass a text file with one text per line, or - for stdin."
        )
    return file.open(encoding="utf-8")


def _model(value: str) -> str:
    try:
        return resolve_model(value)
    except WorkersAIError as exc:  # an unknown bare name: argparse reports it as usage error
        raise argparse.ArgumentTypeError(str(exc).replace("\n", " ")) from None


def _whole_number(low: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number of at least ``low`` (exit 2 otherwise)."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {number}")
        return number

    return parse


_positive_int = _whole_number(1)


def _finite(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {value}")
    return number


def _seconds(value: str) -> float:
    seconds = _finite(value)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {value}")
    return seconds


# The widest range of any chat model in the catalog; each model's own is checked after parsing.
_TEMPERATURE = (0.0, 5.0)


def _temperature(value: str) -> float:
    number = _finite(value)
    low, high = _TEMPERATURE
    if not low <= number <= high:
        raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}, not {value}")
    return number


class _BadArgumentError(Exception):
    """An argument out of what its model allows, found after parsing (a usage error: exit 2)."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"argument {flag}: {message}")


def _check_chat_args(args: argparse.Namespace) -> None:
    info = get_model_info(args.model)
    spec = info.params.get("temperature") if info else None
    if args.temperature is None or spec is None:
        return
    low = spec.minimum if spec.minimum is not None else _TEMPERATURE[0]
    high = spec.maximum if spec.maximum is not None else _TEMPERATURE[1]
    if not low <= args.temperature <= high:
        raise _BadArgumentError(
            "--temperature", f"{args.model} takes {low:g} to {high:g}, not {args.temperature:g}"
        )


_IMAGE_FLAGS = {
    "negative_prompt": "--negative-prompt",
    "width": "--width",
    "height": "--height",
    "num_steps": "--steps",
    "steps": "--steps",
    "seed": "--seed",
}


def _image_params(args: argparse.Namespace) -> dict[str, Any]:
    params = {
        "negative_prompt": args.negative_prompt,
        "width": args.width,
        "height": args.height,
        "num_steps": args.steps,
        "seed": args.seed,
    }
    return {key: value for key, value in params.items() if value is not None}


def _check_image_args(args: argparse.Namespace) -> None:
    # What the model takes and its documented ranges (flux: steps at most 8, no width): an
    # argument it cannot use is a usage error, found before the (paid) request.
    try:
        check_image_params(args.model, _image_params(args))
    except InvalidInputError as exc:
        message = f"{exc.message}. {exc.hint}" if exc.hint else exc.message
        raise _BadArgumentError(_IMAGE_FLAGS.get(exc.field or "", "--model"), message) from None


def _client(args: argparse.Namespace) -> WorkersAI:
    return WorkersAI(timeout=args.timeout, max_retries=args.max_retries)


# --------------------------------------------------------------------------------------
# chat
# --------------------------------------------------------------------------------------


def _cmd_chat(args: argparse.Namespace) -> int:
    prompt = _read_text_arg(args.prompt)
    if not prompt.strip():
        raise CommandError("The prompt is empty.", 'Pass a prompt: workersai chat "Say hi".')
    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt})
    options = {
        key: value
        for key, value in (("max_tokens", args.max_tokens), ("temperature", args.temperature))
        if value is not None
    }
    with _client(args) as client, _usage_report(args.usage):
        if args.json:
            result = client.chat(args.model, messages, **options)
            payload = {
                "model": result.model,
                "text": result.text,
                "reasoning": result.reasoning,
                "tool_calls": [
                    {"id": c.id, "name": c.name, "arguments": c.arguments}
                    for c in result.tool_calls
                ],
                "finish_reason": result.finish_reason,
                "usage": None if result.usage is None else dataclasses.asdict(result.usage),
            }
            print(json.dumps(payload, ensure_ascii=False, indent=2))
        elif args.stream:
            with client.stream_chat(args.model, messages, **options) as stream:
                for chunk in stream:
                    if chunk.text:
                        sys.stdout.write(chunk.text)
                        sys.stdout.flush()
            print()
        else:
            print(client.chat(args.model, messages, **options).text)
    return EXIT_OK


# --------------------------------------------------------------------------------------
# embed
# --------------------------------------------------------------------------------------


def _progress(total: int, enabled: bool) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """``(on_progress, close)``: a tqdm bar on stderr when tqdm is installed, else a counter."""
    if not enabled:
        return (lambda done, total: None), (lambda: None)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        bar = tqdm(total=total, unit="text", desc="embedding", file=sys.stderr)

        def update(done: int, _total: int) -> None:
            bar.update(done - bar.n)

        return update, bar.close
    interactive = sys.stderr.isatty()

    def count(done: int, _total: int) -> None:
        if interactive:
            sys.stderr.write(f"\rembedded {done}/{total} texts")
            sys.stderr.flush()

    return count, (lambda: err() if interactive else None)


def _cmd_embed(args: argparse.Namespace) -> int:
    with _read_input_file(args.file) as source:
        lines = [(number, line.rstrip("\n")) for number, line in enumerate(source, 1)]
    texts = [(number, text) for number, text in lines if text.strip()]
    if not texts:
        raise CommandError(f"{args.file} has no text to embed.", "Put one text per line.")
    skipped = len(lines) - len(texts)
    on_progress, close = _progress(len(texts), not args.no_progress)
    with _client(args) as client, _usage_report(args.usage):
        try:
            result = client.embed(
                args.model,
                [text for _, text in texts],
                batch_size=args.batch_size,
                max_concurrency=args.max_concurrency,
                on_progress=on_progress,
            )
        finally:
            close()
    out: IO[str]
    with (
        open(args.out, "w", encoding="utf-8")
        if args.out
        else contextlib.nullcontext(sys.stdout) as out
    ):
        for (number, text), vector in zip(texts, result.vectors, strict=True):
            out.write(json.dumps({"line": number, "text": text, "embedding": vector}) + "\n")
    dims = len(result.vectors[0]) if result.vectors else 0
    note = f" ({skipped} blank line{'s' if skipped != 1 else ''} skipped)" if skipped else ""
    where = f" to {args.out}" if args.out else ""
    model = result.model or args.model
    err(f"embedded {len(texts)} texts with {model}: {dims} dimensions{where}{note}")
    return EXIT_OK


# --------------------------------------------------------------------------------------
# image
# --------------------------------------------------------------------------------------


def _cmd_image(args: argparse.Namespace) -> int:
    prompt = _read_text_arg(args.prompt)
    if not prompt.strip():
        raise CommandError("The prompt is empty.", 'Pass a prompt: workersai image "a fox".')
    with _client(args) as client, _usage_report(args.usage):
        image = client.generate_image(prompt, model=args.model, **_image_params(args))
    # Without Pillow a JPEG cannot become the PNG --out asks for. Refusing before the request
    # would need the model's output format, which the catalog does not always know (flux's
    # JPEG is undeclared), and would fail the README's own line on a bare install; so the
    # picture, already paid for, is saved in its own format next to --out and the line says so.
    err(save_image(image, args.out))
    return EXIT_OK


# --------------------------------------------------------------------------------------
# transcribe
# --------------------------------------------------------------------------------------


def _cmd_transcribe(args: argparse.Namespace) -> int:
    audio = Path(args.audio)
    if not audio.is_file():
        raise CommandError(f"No such file: {args.audio}", "Pass an audio file (mp3, wav, ...).")
    options = {"language": args.language} if args.language else {}
    with _client(args) as client, _usage_report(args.usage):
        transcript = client.transcribe(audio, model=args.model, **options)
    if args.json:
        payload = {
            "model": transcript.model,
            "text": transcript.text,
            "language": transcript.language,
            "duration": transcript.duration,
            "segments": [
                {"start": s.start, "end": s.end, "text": s.text} for s in transcript.segments
            ],
            "words": [{"word": w.word, "start": w.start, "end": w.end} for w in transcript.words],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    elif args.vtt:
        if not transcript.vtt:
            raise CommandError(f"{transcript.model or args.model} sent no VTT subtitles.")
        print(transcript.vtt)
    else:
        print(transcript.text)
    return EXIT_OK


# --------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------


def _price_text(info: ModelInfo) -> str:
    prices = [p for p in info.price if p.unit]
    if not prices:
        return ""
    return ", ".join(f"${p.price:g} {p.unit}" for p in prices[:2])


def _cmd_models(args: argparse.Namespace) -> int:
    if args.live:
        with _client(args) as client:
            models = client.list_models(task=args.task, search=args.search)
    else:
        catalog = get_catalog()
        models = catalog.by_task(args.task) if args.task else catalog.all()
        if args.search:
            needle = args.search.lower()
            models = [
                m for m in models if needle in m.id.lower() or needle in m.description.lower()
            ]
    if args.json:
        rows = [
            {
                "id": m.id,
                "task": m.task,
                "context_window": m.context_window,
                "function_calling": m.function_calling,
                "embedding_dimensions": m.embedding_dimensions,
                "price": [
                    {"unit": p.unit, "price": p.price, "currency": p.currency} for p in m.price
                ],
            }
            for m in models
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not models:
        raise CommandError(
            f"No model matches task={args.task!r} search={args.search!r}.",
            "Tasks: " + ", ".join(sorted({m.task for m in get_catalog().all()})) + ".",
        )
    width = max(len(m.id) for m in models)
    print(f"{'model':<{width}}  {'task':<28} {'context':>8} {'tools':>5} {'dims':>5}  price")
    for m in models:
        context = f"{m.context_window:,}" if m.context_window else ""
        dims = str(m.embedding_dimensions or "")
        tools = "yes" if m.function_calling else ""
        print(f"{m.id:<{width}}  {m.task:<28} {context:>8} {tools:>5} {dims:>5}  {_price_text(m)}")
    source = "live from /ai/models/search" if args.live else "bundled catalog; --live asks the API"
    err(f"{len(models)} models ({source})")
    return EXIT_OK


# --------------------------------------------------------------------------------------
# doctor
# --------------------------------------------------------------------------------------


def _mask(value: str) -> str:
    return value if len(value) <= 8 else f"{value[:4]}…{value[-4:]}"


class _Checklist:
    def __init__(self) -> None:
        self.failures = 0

    def ok(self, what: str, detail: str) -> None:
        print(f"  ok    {what}: {detail}")

    def fail(self, what: str, detail: str, fix: str | None = None) -> None:
        self.failures += 1
        print(f"  FAIL  {what}: {detail}")
        if fix:
            print(f"        fix: {fix}")


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = call()
    return value, (time.perf_counter() - started) * 1000


def _explain_api_failure(exc: WorkersAIError, *, step: str, account_ok: bool) -> tuple[str, str]:
    """What a failed doctor step means, in plain words, and what to do."""
    if isinstance(exc, RouteNotFoundError):
        if account_ok:
            return (
                f"no route for the model ({exc.message})",
                "the account id works, so the model id is wrong"
                + (f" — {exc.hint}" if exc.hint else "")
                + "; `workersai models` lists the known ids",
            )
        return (
            f"no route for that URI ({exc.message})",
            "the account id is wrong: copy it from the dashboard URL "
            "(dash.cloudflare.com/<account id>/ai/workers-ai)",
        )
    if isinstance(exc, AuthenticationError):
        return (
            f"token rejected ({exc.message})",
            "create an API token with the 'Workers AI Read' permission for this account",
        )
    if isinstance(exc, PermissionDeniedError):
        return (
            f"permission denied ({exc.message})",
            exc.hint or "the token's account must have access to Workers AI and this model",
        )
    if isinstance(exc, APIConnectionError):
        return (
            f"cannot reach the API ({exc.message})",
            "check the network, proxy and CLOUDFLARE_BASE_URL",
        )
    return (exc.message, exc.hint or f"the {step} failed; retry later")


def _cmd_doctor(args: argparse.Namespace) -> int:
    from workersai._config import find_credential

    checks = _Checklist()
    print(f"workersai {__version__} doctor")
    print("credentials")
    account = find_credential(ACCOUNT_ID_ENV, ACCOUNT_ID_FILE_ENV)
    token = find_credential(API_TOKEN_ENV, API_TOKEN_FILE_ENV)
    if account.value:
        checks.ok("account id", f"{_mask(account.value)} from {account.origin}")
    else:
        checks.fail(
            "account id",
            account.problem or "not set",
            f"set {' or '.join(ACCOUNT_ID_ENV)}, or {ACCOUNT_ID_FILE_ENV} to a file holding it",
        )
    if token.value:
        checks.ok("API token", f"{len(token.value)} characters from {token.origin}")
    else:
        checks.fail(
            "API token",
            token.problem or "not set",
            f"set {' or '.join(API_TOKEN_ENV)}, or {API_TOKEN_FILE_ENV}; the token needs "
            "'Workers AI Read'",
        )
    base_url = resolve_base_url(None)
    print(f"api: {base_url}")
    if checks.failures:
        print("doctor: fix the credentials above, then run `workersai doctor` again")
        print(f"doctor: to try the package first, {_TRY_OFFLINE}")
        return EXIT_FAILED

    account_ok = False
    with _client(args) as client:
        try:
            _, ms = _timed(
                lambda: client.list_models(per_page=1, max_pages=1, update_catalog=False)
            )
            account_ok = True
            checks.ok("account + token", f"GET /ai/models/search answered in {ms:.0f} ms")
        except WorkersAIError as exc:
            checks.fail(
                "account + token", *_explain_api_failure(exc, step="model list", account_ok=False)
            )
        try:
            result, ms = _timed(
                lambda: client.chat(
                    args.model,
                    [{"role": "user", "content": "Reply with the single word: pong"}],
                    max_tokens=8,
                )
            )
            answer = result.text.strip().replace("\n", " ")[:40]
            checks.ok("chat", f"{args.model} answered {answer!r} in {ms:.0f} ms")
        except WorkersAIError as exc:
            checks.fail("chat", *_explain_api_failure(exc, step="chat", account_ok=account_ok))
        try:
            embedding, ms = _timed(lambda: client.embed(args.embedding_model, ["ping"]))
            dims = len(embedding.vectors[0]) if embedding.vectors else 0
            checks.ok("embedding", f"{args.embedding_model} gave {dims} dimensions in {ms:.0f} ms")
        except WorkersAIError as exc:
            checks.fail(
                "embedding", *_explain_api_failure(exc, step="embedding", account_ok=account_ok)
            )
    if checks.failures:
        print(f"doctor: {checks.failures} check{'s' if checks.failures > 1 else ''} failed")
        return EXIT_FAILED
    print("doctor: everything works")
    return EXIT_OK


# --------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from workersai.cli.demo import run_demo

    return run_demo(out_dir=Path(args.out_dir), usage=args.usage, offline=args.offline)


# --------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workersai",
        description="Cloudflare Workers AI from the command line. Credentials come from "
        "CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN (or CF_ACCOUNT_ID / CF_AI_API_TOKEN, "
        "or the files named by CLOUDFLARE_ACCOUNT_ID_FILE / CLOUDFLARE_API_TOKEN_FILE).",
        epilog="Run `workersai doctor` to check your set-up, `workersai demo` to see it all.",
    )
    parser.add_argument("--version", action="version", version=f"workersai {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)

    def command(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=description or help)
        sub.add_argument(
            "--timeout", type=_seconds, default=60.0, metavar="S", help="seconds per request (60)"
        )
        sub.add_argument(
            "--max-retries",
            type=_whole_number(0),
            default=2,
            metavar="N",
            help="retries on 429/5xx (2)",
        )
        sub.set_defaults(command_parser=sub, check=None)
        return sub

    def usage_flag(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--usage", action="store_true", help="print tokens, neurons and estimated cost"
        )

    chat = command("chat", "one chat completion, streamed by default")
    chat.add_argument("prompt", help="the prompt, or - to read it from stdin")
    chat.add_argument(
        "--model", "-m", type=_model, default=DEFAULT_CHAT_MODEL, help="model id or short name"
    )
    chat.add_argument("--system", "-s", help="a system prompt")
    chat.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stream tokens as they arrive",
    )
    chat.add_argument("--json", action="store_true", help="print the whole result as JSON")
    chat.add_argument("--max-tokens", type=_positive_int, help="longest answer in tokens")
    chat.add_argument(
        "--temperature", type=_temperature, help="0-5 (0-2 for some models); lower is steadier"
    )
    usage_flag(chat)
    chat.set_defaults(run=_cmd_chat, check=_check_chat_args)

    embed = command(
        "embed",
        "embed one text per line of a file",
        "Embed each non-blank line of FILE (or stdin with -) and write JSON lines "
        '{"line", "text", "embedding"} to --out or stdout. Requests of up to 100 texts run '
        "8 at a time; the output keeps the input order.",
    )
    embed.add_argument("file", help="a text file with one text per line, or - for stdin")
    embed.add_argument(
        "--model", "-m", type=_model, default=DEFAULT_EMBEDDING_MODEL, help="embedding model"
    )
    embed.add_argument("--out", "-o", help="write the JSON lines here instead of stdout")
    embed.add_argument("--batch-size", type=_positive_int, help="texts per request (model limit)")
    embed.add_argument(
        "--max-concurrency", type=_positive_int, default=8, help="requests in flight (8)"
    )
    embed.add_argument("--no-progress", action="store_true", help="no progress bar")
    usage_flag(embed)
    embed.set_defaults(run=_cmd_embed)

    image = command("image", "generate an image from a prompt")
    image.add_argument("prompt", help="what to draw, or - to read it from stdin")
    image.add_argument("--out", "-o", required=True, help="file to write (.png, .jpg, .webp)")
    image.add_argument(
        "--model", "-m", type=_model, default=DEFAULT_IMAGE_MODEL, help="image model"
    )
    image.add_argument("--negative-prompt", help="what to avoid (Stable Diffusion models)")
    image.add_argument("--width", type=_positive_int, help="pixels (models that take it)")
    image.add_argument("--height", type=_positive_int, help="pixels (models that take it)")
    image.add_argument("--steps", type=_positive_int, help="diffusion steps")
    image.add_argument("--seed", type=_whole_number(0), help="seed for a reproducible image")
    usage_flag(image)
    image.set_defaults(run=_cmd_image, check=_check_image_args)

    transcribe = command("transcribe", "transcribe an audio file with Whisper")
    transcribe.add_argument("audio", help="audio file (mp3, wav, ...)")
    transcribe.add_argument(
        "--model", "-m", type=_model, default=SPEECH_RECOGNITION_MODEL, help="speech model"
    )
    transcribe.add_argument("--language", help="spoken language, e.g. en (whisper-large-v3-turbo)")
    output = transcribe.add_mutually_exclusive_group()
    output.add_argument("--vtt", action="store_true", help="print WebVTT subtitles")
    output.add_argument(
        "--json", action="store_true", help="print text, segments and words as JSON"
    )
    usage_flag(transcribe)
    transcribe.set_defaults(run=_cmd_transcribe)

    models = command("models", "list models with task, context window, tools and price")
    models.add_argument("--task", "-t", help="e.g. text-generation, text-embeddings, text-to-image")
    models.add_argument("--search", help="substring of the id or description")
    models.add_argument(
        "--live", action="store_true", help="ask the API instead of the bundled catalog"
    )
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(run=_cmd_models)

    doctor = command(
        "doctor",
        "check credentials, reach the API, run one chat and one embedding",
        "Check the credentials (environment variables and files), reach the API, run one tiny "
        "chat and one embedding, and say in plain words what is wrong.",
    )
    doctor.add_argument(
        "--model", "-m", type=_model, default=DEFAULT_CHAT_MODEL, help="chat model to try"
    )
    doctor.add_argument(
        "--embedding-model",
        type=_model,
        default=DEFAULT_EMBEDDING_MODEL,
        help="embedding model to try",
    )
    doctor.set_defaults(run=_cmd_doctor)

    demo = command(
        "demo",
        "the main job end to end (offline without credentials)",
        "A streamed chat, a tool-calling agent, a RAG answer over the README with BGE embeddings "
        "and the reranker, and an image saved to disk. Without credentials it replays bundled "
        "example responses and says so.",
    )
    demo.add_argument(
        "--out-dir",
        default=".",
        metavar="DIR",
        help="where to save the picture, workersai-demo.png (default: here; created if missing)",
    )
    demo.add_argument("--offline", action="store_true", help="replay even with credentials set")
    usage_flag(demo)
    demo.set_defaults(run=_cmd_demo)

    add_generate_command(command)  # the command lives in workersai/cli/generate.py
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (``python -m workersai`` and ``workersai``)."""
    args = build_parser().parse_args(argv)
    if args.check is not None:
        try:
            args.check(args)
        except _BadArgumentError as exc:
            args.command_parser.error(str(exc))  # usage, the message, exit 2
    try:
        code: int = args.run(args)
        return code
    except CommandError as exc:
        report(exc.message, exc.hint)
    except MissingCredentialsError as exc:
        message, hint = describe_error(exc)
        offline = f"To try the package first, {_TRY_OFFLINE}."
        report(message, f"{hint} {offline}" if hint else offline)
    except WorkersAIError as exc:
        report(*describe_error(exc))
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `workersai embed file | head`
        with contextlib.suppress(OSError):
            sys.stdout.close()
    return EXIT_FAILED
