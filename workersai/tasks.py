"""Workers AI's other tasks — images, speech, translation, classification — from one table.

:data:`TASKS` maps each task to its default model, a *builder* (typed arguments → the body
Workers AI wants: JSON, raw bytes or a multipart form) and a *parser* (answer → a typed
result). The client methods (``client.translate(...)``, ``client.generate_image(...)``, ...)
are one line each over that table; the sync and async clients share it.

- ``translate`` (``@cf/meta/m2m100-1.2b``) → ``str``
- ``summarize`` (a chat model, ``@cf/meta/llama-3.3-70b-instruct-fp8-fast``) → ``str``
- ``classify_text`` (``@cf/huggingface/distilbert-sst-2-int8``) → ``list[Label]``
- ``classify_image`` (``@cf/microsoft/resnet-50``) → ``list[Label]``
- ``describe_image`` (``@cf/llava-hf/llava-1.5-7b-hf``) → ``str``
- ``detect_objects`` (``@cf/facebook/detr-resnet-50``) → ``list[DetectedObject]``
- ``generate_image`` (``@cf/black-forest-labs/flux-1-schnell``) → :class:`ImageResult`
- ``transcribe`` (``@cf/openai/whisper-large-v3-turbo``) → :class:`Transcript`
- ``speak`` (``@cf/myshell-ai/melotts``) → :class:`AudioResult`

Each takes ``model=`` to use another model of the same task; a model of another task is
rejected before any request.

Example:
    >>> client.translate("Hello, world", target_lang="fr")
    'Bonjour, le monde'
    >>> client.classify_text("This movie was great!")[0]
    Label(label='POSITIVE', score=0.9998)
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

import httpx

from workersai._chat import parse_chat_response
from workersai._media import Multipart, sniff_mime
from workersai.audio import AudioResult, Transcript, coerce_audio
from workersai.errors import InvalidInputError, UnexpectedResponseError
from workersai.images import DEFAULT_IMAGE_MODEL, ImageResult, build_image_request, coerce_image
from workersai.models import (
    DEFAULT_CHAT_MODEL,
    ModelInfo,
    get_model_info,
    resolve_model,
    warn_if_retired,
)
from workersai.schemas import (
    ImageToTextInput,
    SpeechRecognitionInput,
    SummarizationInput,
    validate_input,
)
from workersai.usage import run_cost

__all__ = [
    "TASKS",
    "AsyncTaskMethods",
    "BoundingBox",
    "DetectedObject",
    "Label",
    "Task",
    "TaskCall",
    "TaskMethods",
]

TRANSLATION_MODEL = "@cf/meta/m2m100-1.2b"
# Workers AI retired its only summarization model, bart-large-cnn, on 2026-05-30 without a
# successor (wire reference §10.4): summaries come from a chat model.
SUMMARIZATION_MODEL = DEFAULT_CHAT_MODEL
TEXT_CLASSIFICATION_MODEL = "@cf/huggingface/distilbert-sst-2-int8"
IMAGE_CLASSIFICATION_MODEL = "@cf/microsoft/resnet-50"
IMAGE_TO_TEXT_MODEL = "@cf/llava-hf/llava-1.5-7b-hf"
OBJECT_DETECTION_MODEL = "@cf/facebook/detr-resnet-50"
SPEECH_RECOGNITION_MODEL = "@cf/openai/whisper-large-v3-turbo"
TEXT_TO_SPEECH_MODEL = "@cf/myshell-ai/melotts"

Timeout = float | httpx.Timeout | None
R = TypeVar("R")


# --------------------------------------------------------------------------------------
# Result types of the small tasks
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Label:
    """A class and its score (text and image classification), best first."""

    label: str
    score: float


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """Pixel coordinates of a detected object."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True, slots=True)
class DetectedObject:
    """One object found by an object-detection model."""

    label: str
    score: float
    box: BoundingBox


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskCall:
    """One prepared request: what :meth:`WorkersAI.run` sends."""

    model: str
    inputs: Mapping[str, Any] | bytes | Multipart
    content_type: str | None = None
    query: Mapping[str, str] | None = None
    # Builders that turn images/audio into large arrays validate before converting.
    validate: bool = True


@dataclass(frozen=True)
class Task(Generic[R]):
    """One task: its catalog name, default model, request builder and answer parser."""

    task: str
    default_model: str
    build: Callable[[str, ModelInfo | None, dict[str, Any]], TaskCall]
    parse: Callable[[Any, str], R]
    #: Other tasks whose models also do this one (summaries from Text Generation models).
    also: tuple[str, ...] = ()

    def prepare(self, model: str | None, args: Mapping[str, Any]) -> TaskCall:
        """Resolve the model, check it does this task, and build the request.

        Raises:
            InvalidInputError: a model of another task, or invalid arguments.
        """
        model_id = resolve_model(model or self.default_model)
        info = get_model_info(model_id)
        if info is not None and info.retired is not None:
            warn_if_retired(model_id)
        tasks = {t.lower() for t in (self.task, *self.also)}
        if info is not None and info.task and info.task.lower() not in tasks:
            raise InvalidInputError(
                f"{model_id} is a {info.task} model, not {self.task}",
                field="model",
                hint=f"Use a {' or '.join((self.task, *self.also))} model such as "
                f"{self.default_model}.",
            )
        return self.build(model_id, info, {k: v for k, v in args.items() if v is not None})


def _unexpected(model: str, output: Any, wanted: str) -> UnexpectedResponseError:
    shape = sorted(output) if isinstance(output, Mapping) else type(output).__name__
    return UnexpectedResponseError(
        f"{model} answered without {wanted} (got {shape})",
        model=model,
        body=None if isinstance(output, bytes) else output,
    )


def _reject_unknown(
    model: str, info: ModelInfo | None, args: Mapping[str, Any], hint: str | None = None
) -> None:
    if info is None or not info.accepts:
        return
    unknown = sorted(set(args) - info.accepts)
    if unknown:
        raise InvalidInputError(
            f"{model} does not accept {', '.join(unknown)}; "
            f"it takes {', '.join(sorted(info.accepts))}",
            field=unknown[0],
            hint=hint,
        )


# -- builders ---------------------------------------------------------------------------


def _json_body(model: str, info: ModelInfo | None, args: dict[str, Any]) -> TaskCall:
    return TaskCall(model, args)


_SUMMARY_PROMPT = (
    "Summarize the text the user sends in a few sentences. Answer with the summary only, in "
    "the language of the text."
)


def _summarization_body(model: str, info: ModelInfo | None, args: dict[str, Any]) -> TaskCall:
    validate_input(info or model, args, schema=SummarizationInput)
    if info is not None and info.task.lower() == "summarization":
        return TaskCall(model, args)  # a summarization model's own input (bart-large-cnn's)
    body: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": _SUMMARY_PROMPT},
            {"role": "user", "content": args["input_text"]},
        ]
    }
    if args.get("max_length") is not None:
        body["max_tokens"] = args["max_length"]
    return TaskCall(model, body)


def _image_body(model: str, info: ModelInfo | None, args: dict[str, Any]) -> TaskCall:
    image = coerce_image(args.pop("image", None))
    _reject_unknown(model, info, args)
    if info is None or info.input_format == "json_or_binary":
        # The documented raw-body alternative: a quarter of the size of a JSON byte array.
        return TaskCall(model, image, content_type=sniff_mime(image), validate=False)
    return TaskCall(model, {**args, "image": list(image)}, validate=False)


def _image_to_text_body(model: str, info: ModelInfo | None, args: dict[str, Any]) -> TaskCall:
    image = coerce_image(args.pop("image", None))
    validate_input(info or model, {**args, "image": []}, schema=ImageToTextInput)
    return TaskCall(model, {**args, "image": list(image)}, validate=False)


def _text_to_image_body(model: str, info: ModelInfo | None, args: dict[str, Any]) -> TaskCall:
    return TaskCall(model, build_image_request(model, args), validate=False)


def _speech_recognition_body(model: str, info: ModelInfo | None, args: dict[str, Any]) -> TaskCall:
    audio, guessed = coerce_audio(args.pop("audio", None))
    declared = args.pop("mime_type", None)
    # The bytes know better than a caller's guess ("audio/x-wav"), which beats the file name.
    mime = sniff_mime(audio) or declared or guessed or "application/octet-stream"
    if "deepgram/" in model:
        # nova-3 takes raw audio with its type; options go in the query string, as on
        # Deepgram's own REST API (wire reference §1.2, §8.3).
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in args.items()}
        return TaskCall(model, audio, content_type=mime, query=query or None, validate=False)
    input_format = info.input_format if info else ("json" if "turbo" in model else "")
    if input_format == "json_or_binary":
        # whisper / whisper-tiny-en: the raw body, exactly like `curl --data-binary @file`.
        hint = f"For language, task or vad_filter use {SPEECH_RECOGNITION_MODEL}."
        _reject_unknown(model, info, args, hint)
        return TaskCall(model, audio, content_type=mime, validate=False)
    # whisper-large-v3-turbo: base64 `audio` in JSON (no raw body, no byte array).
    validate_input(info or model, {**args, "audio": ""}, schema=SpeechRecognitionInput)
    body = {"audio": base64.b64encode(audio).decode("ascii"), **args}
    return TaskCall(model, body, validate=False)


def _text_to_speech_body(model: str, info: ModelInfo | None, args: dict[str, Any]) -> TaskCall:
    text = args.pop("text", None)
    # melotts reads `prompt`, Deepgram's aura models `text`.
    key = "text" if info is not None and "text" in info.accepts else "prompt"
    return TaskCall(model, {key: text, **args})


# -- parsers ----------------------------------------------------------------------------


def _text_field(name: str) -> Callable[[Any, str], str]:
    def parse(output: Any, model: str) -> str:
        if isinstance(output, Mapping) and isinstance(output.get(name), str):
            # llava answers with a leading space (" The image shows ...").
            return str(output[name]).strip()
        raise _unexpected(model, output, f"a {name!r} field")

    return parse


def _summary(output: Any, model: str) -> str:
    if isinstance(output, Mapping) and isinstance(output.get("summary"), str):
        return str(output["summary"]).strip()
    text = parse_chat_response(output).text.strip()
    if not text:
        raise _unexpected(model, output, "a summary")
    return text


def _items(output: Any) -> list[Mapping[str, Any]]:
    if isinstance(output, Mapping):  # tolerate {"response": [...]} / {"result": [...]}
        output = output.get("response", output.get("result"))
    if not isinstance(output, list):
        return []
    return [item for item in output if isinstance(item, Mapping)]


def _score(item: Mapping[str, Any]) -> float:
    score = item.get("score")
    return float(score) if isinstance(score, (int, float)) else 0.0


def _labels(output: Any, model: str) -> list[Label]:
    items = _items(output)
    if not items and not isinstance(output, list):
        raise _unexpected(model, output, "a list of labels")
    labels = [Label(str(item.get("label", "")), _score(item)) for item in items]
    return sorted(labels, key=lambda label: label.score, reverse=True)


def _objects(output: Any, model: str) -> list[DetectedObject]:
    items = _items(output)
    if not items and not isinstance(output, list):
        raise _unexpected(model, output, "a list of objects")
    found = []
    for item in items:
        raw_box = item.get("box")
        box: Mapping[str, Any] = raw_box if isinstance(raw_box, Mapping) else {}
        corners = [box.get(k, 0) for k in ("xmin", "ymin", "xmax", "ymax")]
        found.append(
            DetectedObject(
                str(item.get("label", "")),
                _score(item),
                BoundingBox(*(float(c) if isinstance(c, (int, float)) else 0.0 for c in corners)),
            )
        )
    return sorted(found, key=lambda obj: obj.score, reverse=True)


TASKS: dict[str, Task[Any]] = {
    "translation": Task(
        "Translation", TRANSLATION_MODEL, _json_body, _text_field("translated_text")
    ),
    "summarization": Task(
        "Summarization", SUMMARIZATION_MODEL, _summarization_body, _summary, ("Text Generation",)
    ),
    "text-classification": Task(
        "Text Classification", TEXT_CLASSIFICATION_MODEL, _json_body, _labels
    ),
    "image-classification": Task(
        "Image Classification", IMAGE_CLASSIFICATION_MODEL, _image_body, _labels
    ),
    "image-to-text": Task(
        "Image-to-Text", IMAGE_TO_TEXT_MODEL, _image_to_text_body, _text_field("description")
    ),
    "object-detection": Task("Object Detection", OBJECT_DETECTION_MODEL, _image_body, _objects),
    "text-to-image": Task(
        "Text-to-Image", DEFAULT_IMAGE_MODEL, _text_to_image_body, ImageResult.from_output
    ),
    "automatic-speech-recognition": Task(
        "Automatic Speech Recognition",
        SPEECH_RECOGNITION_MODEL,
        _speech_recognition_body,
        Transcript.from_output,
    ),
    "text-to-speech": Task(
        "Text-to-Speech", TEXT_TO_SPEECH_MODEL, _text_to_speech_body, AudioResult.from_output
    ),
}
"""Task slug → :class:`Task` (builder and parser); the client methods all go through it."""


# --------------------------------------------------------------------------------------
# The client methods (mixed into WorkersAI / AsyncWorkersAI)
# --------------------------------------------------------------------------------------


class _Runner(Protocol):
    def run(
        self,
        model: str,
        inputs: Mapping[str, Any] | bytes | Multipart | None = None,
        *,
        content_type: str | None = None,
        query: Mapping[str, str] | None = None,
        timeout: Timeout = None,
        validate: bool = True,
    ) -> Any: ...


class _AsyncRunner(Protocol):
    async def run(
        self,
        model: str,
        inputs: Mapping[str, Any] | bytes | Multipart | None = None,
        *,
        content_type: str | None = None,
        query: Mapping[str, str] | None = None,
        timeout: Timeout = None,
        validate: bool = True,
    ) -> Any: ...


def _call(
    client: _Runner, task: str, model: str | None, timeout: Timeout, args: dict[str, Any]
) -> Any:
    spec = TASKS[task]
    call = spec.prepare(model, args)
    output = client.run(
        call.model,
        call.inputs,
        content_type=call.content_type,
        query=call.query,
        timeout=timeout,
        validate=call.validate,
    )
    return _parsed(spec, call, output)


async def _acall(
    client: _AsyncRunner, task: str, model: str | None, timeout: Timeout, args: dict[str, Any]
) -> Any:
    spec = TASKS[task]
    call = spec.prepare(model, args)
    output = await client.run(
        call.model,
        call.inputs,
        content_type=call.content_type,
        query=call.query,
        timeout=timeout,
        validate=call.validate,
    )
    return _parsed(spec, call, output)


def _parsed(spec: Task[Any], call: TaskCall, output: Any) -> Any:
    result = spec.parse(output, call.model)
    if isinstance(result, ImageResult):  # its price depends on the request: attach it here
        result = dataclasses.replace(result, cost=run_cost(call.model, call.inputs, output))
    return result


def _image_args(
    prompt: str, image: Any, mask: Any, params: Mapping[str, Any], options: Mapping[str, Any]
) -> dict[str, Any]:
    return {"prompt": prompt, **params, "image": image, "mask": mask, **options}


class TaskMethods:
    """Typed task methods of :class:`~workersai.WorkersAI` (see :data:`TASKS`)."""

    def translate(
        self: _Runner,
        text: str,
        target_lang: str,
        *,
        source_lang: str | None = None,
        model: str = TRANSLATION_MODEL,
        timeout: Timeout = None,
    ) -> str:
        """Translate ``text`` (m2m100 takes language codes: ``"fr"``, ``"de"``, ``"ja"``...;
        ``source_lang`` defaults to English server-side)."""
        args = {"text": text, "target_lang": target_lang, "source_lang": source_lang}
        result: str = _call(self, "translation", model, timeout, args)
        return result

    def summarize(
        self: _Runner,
        text: str,
        *,
        max_length: int | None = None,
        model: str = SUMMARIZATION_MODEL,
        timeout: Timeout = None,
    ) -> str:
        """Summarize ``text`` with a chat model; ``max_length`` caps the summary, in tokens.

        Workers AI retired its summarization model (bart-large-cnn) on 2026-05-30, so the
        default is a chat model asked for a summary; any Text Generation model works.
        """
        args = {"input_text": text, "max_length": max_length}
        result: str = _call(self, "summarization", model, timeout, args)
        return result

    def classify_text(
        self: _Runner,
        text: str,
        *,
        model: str = TEXT_CLASSIFICATION_MODEL,
        timeout: Timeout = None,
    ) -> list[Label]:
        """Labels with scores, best first (distilbert-sst-2: ``POSITIVE`` / ``NEGATIVE``)."""
        result: list[Label] = _call(self, "text-classification", model, timeout, {"text": text})
        return result

    def classify_image(
        self: _Runner,
        image: Any,
        *,
        model: str = IMAGE_CLASSIFICATION_MODEL,
        timeout: Timeout = None,
    ) -> list[Label]:
        """ImageNet labels with scores, best first. ``image``: bytes, path, data URI or PIL."""
        result: list[Label] = _call(self, "image-classification", model, timeout, {"image": image})
        return result

    def describe_image(
        self: _Runner,
        image: Any,
        prompt: str | None = None,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        model: str = IMAGE_TO_TEXT_MODEL,
        timeout: Timeout = None,
        **options: Any,
    ) -> str:
        """What the image shows, or the answer to ``prompt`` about it (llava)."""
        args = {
            "image": image,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            **options,
        }
        result: str = _call(self, "image-to-text", model, timeout, args)
        return result

    def detect_objects(
        self: _Runner,
        image: Any,
        *,
        model: str = OBJECT_DETECTION_MODEL,
        timeout: Timeout = None,
    ) -> list[DetectedObject]:
        """Objects with labels, scores and pixel boxes, best first (detr-resnet-50)."""
        args = {"image": image}
        result: list[DetectedObject] = _call(self, "object-detection", model, timeout, args)
        return result

    def generate_image(
        self: _Runner,
        prompt: str,
        *,
        model: str = DEFAULT_IMAGE_MODEL,
        negative_prompt: str | None = None,
        width: int | None = None,
        height: int | None = None,
        num_steps: int | None = None,
        guidance: float | None = None,
        seed: int | None = None,
        strength: float | None = None,
        image: Any = None,
        mask: Any = None,
        timeout: Timeout = None,
        **options: Any,
    ) -> ImageResult:
        """Generate an image, whatever the model family (see :mod:`workersai.images`).

        ``image`` (img2img; a list of up to four for FLUX.2) and ``mask`` (inpainting) take
        bytes, paths, data URIs or Pillow images. ``num_steps`` is sent as ``steps`` to the
        models that call it that (Flux). Parameters the model does not take are rejected
        before any request, naming the model.

        Example:
            >>> image = client.generate_image("a red fox in snow", num_steps=4)
            >>> image.mime_type, image.size
            ('image/jpeg', (1024, 1024))
        """
        params = {
            "negative_prompt": negative_prompt,
            "width": width,
            "height": height,
            "num_steps": num_steps,
            "guidance": guidance,
            "seed": seed,
            "strength": strength,
        }
        args = _image_args(prompt, image, mask, params, options)
        result: ImageResult = _call(self, "text-to-image", model, timeout, args)
        return result

    def transcribe(
        self: _Runner,
        audio: Any,
        *,
        model: str = SPEECH_RECOGNITION_MODEL,
        mime_type: str | None = None,
        language: str | None = None,
        task: Literal["transcribe", "translate"] | None = None,
        timeout: Timeout = None,
        **options: Any,
    ) -> Transcript:
        """Transcribe audio (bytes, path, data URI or binary file) with timings.

        The audio is sent as each model requires: raw bytes for ``whisper`` and
        ``whisper-tiny-en`` (which take no options), base64 JSON for
        ``whisper-large-v3-turbo`` (``language``, ``task="translate"``, ``vad_filter``,
        ``initial_prompt``, ...), raw bytes with its ``Content-Type`` for Deepgram
        ``nova-3`` (options as query parameters).
        """
        args = {"audio": audio, "mime_type": mime_type, "language": language, "task": task}
        result: Transcript = _call(
            self, "automatic-speech-recognition", model, timeout, {**args, **options}
        )
        return result

    def speak(
        self: _Runner,
        text: str,
        *,
        model: str = TEXT_TO_SPEECH_MODEL,
        timeout: Timeout = None,
        **options: Any,
    ) -> AudioResult:
        """Synthesize speech (melotts: ``lang="fr"``...; aura: ``speaker="luna"``...)."""
        result: AudioResult = _call(
            self, "text-to-speech", model, timeout, {"text": text, **options}
        )
        return result


class AsyncTaskMethods:
    """Async twins of :class:`TaskMethods`, for :class:`~workersai.AsyncWorkersAI`."""

    async def translate(
        self: _AsyncRunner,
        text: str,
        target_lang: str,
        *,
        source_lang: str | None = None,
        model: str = TRANSLATION_MODEL,
        timeout: Timeout = None,
    ) -> str:
        """Async twin of :meth:`TaskMethods.translate`."""
        args = {"text": text, "target_lang": target_lang, "source_lang": source_lang}
        result: str = await _acall(self, "translation", model, timeout, args)
        return result

    async def summarize(
        self: _AsyncRunner,
        text: str,
        *,
        max_length: int | None = None,
        model: str = SUMMARIZATION_MODEL,
        timeout: Timeout = None,
    ) -> str:
        """Async twin of :meth:`TaskMethods.summarize`."""
        args = {"input_text": text, "max_length": max_length}
        result: str = await _acall(self, "summarization", model, timeout, args)
        return result

    async def classify_text(
        self: _AsyncRunner,
        text: str,
        *,
        model: str = TEXT_CLASSIFICATION_MODEL,
        timeout: Timeout = None,
    ) -> list[Label]:
        """Async twin of :meth:`TaskMethods.classify_text`."""
        args = {"text": text}
        result: list[Label] = await _acall(self, "text-classification", model, timeout, args)
        return result

    async def classify_image(
        self: _AsyncRunner,
        image: Any,
        *,
        model: str = IMAGE_CLASSIFICATION_MODEL,
        timeout: Timeout = None,
    ) -> list[Label]:
        """Async twin of :meth:`TaskMethods.classify_image`."""
        args = {"image": image}
        result: list[Label] = await _acall(self, "image-classification", model, timeout, args)
        return result

    async def describe_image(
        self: _AsyncRunner,
        image: Any,
        prompt: str | None = None,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        model: str = IMAGE_TO_TEXT_MODEL,
        timeout: Timeout = None,
        **options: Any,
    ) -> str:
        """Async twin of :meth:`TaskMethods.describe_image`."""
        args = {
            "image": image,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            **options,
        }
        result: str = await _acall(self, "image-to-text", model, timeout, args)
        return result

    async def detect_objects(
        self: _AsyncRunner,
        image: Any,
        *,
        model: str = OBJECT_DETECTION_MODEL,
        timeout: Timeout = None,
    ) -> list[DetectedObject]:
        """Async twin of :meth:`TaskMethods.detect_objects`."""
        args = {"image": image}
        result: list[DetectedObject] = await _acall(self, "object-detection", model, timeout, args)
        return result

    async def generate_image(
        self: _AsyncRunner,
        prompt: str,
        *,
        model: str = DEFAULT_IMAGE_MODEL,
        negative_prompt: str | None = None,
        width: int | None = None,
        height: int | None = None,
        num_steps: int | None = None,
        guidance: float | None = None,
        seed: int | None = None,
        strength: float | None = None,
        image: Any = None,
        mask: Any = None,
        timeout: Timeout = None,
        **options: Any,
    ) -> ImageResult:
        """Async twin of :meth:`TaskMethods.generate_image`."""
        params = {
            "negative_prompt": negative_prompt,
            "width": width,
            "height": height,
            "num_steps": num_steps,
            "guidance": guidance,
            "seed": seed,
            "strength": strength,
        }
        args = _image_args(prompt, image, mask, params, options)
        result: ImageResult = await _acall(self, "text-to-image", model, timeout, args)
        return result

    async def transcribe(
        self: _AsyncRunner,
        audio: Any,
        *,
        model: str = SPEECH_RECOGNITION_MODEL,
        mime_type: str | None = None,
        language: str | None = None,
        task: Literal["transcribe", "translate"] | None = None,
        timeout: Timeout = None,
        **options: Any,
    ) -> Transcript:
        """Async twin of :meth:`TaskMethods.transcribe`."""
        args = {"audio": audio, "mime_type": mime_type, "language": language, "task": task}
        result: Transcript = await _acall(
            self, "automatic-speech-recognition", model, timeout, {**args, **options}
        )
        return result

    async def speak(
        self: _AsyncRunner,
        text: str,
        *,
        model: str = TEXT_TO_SPEECH_MODEL,
        timeout: Timeout = None,
        **options: Any,
    ) -> AudioResult:
        """Async twin of :meth:`TaskMethods.speak`."""
        args = {"text": text, **options}
        result: AudioResult = await _acall(self, "text-to-speech", model, timeout, args)
        return result
