"""Scenarios for images, speech and the small tasks (tests of workersai.tasks, the LangChain
image/audio classes and the LlamaIndex tool and reader).

Answers follow the documented wire formats (reference §7, §8 and the catalog's output
schemas): flux-1-schnell, lucid-origin and FLUX.2 answer ``{"image": base64}`` in the
envelope, the Stable Diffusion family raw PNG bytes, phoenix-1.0 raw JPEG bytes; Whisper
answers ``{text, word_count, words, vtt}``, turbo adds ``segments``/``transcription_info``,
nova-3 answers in Deepgram's shape. The pictures are real images drawn with Pillow from the
prompt (and from the input image for img2img, inpainting and FLUX.2 references), so a test
can decode and inspect them. These are composed answers, not live recordings.
"""

from __future__ import annotations

import base64
import hashlib
import io
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from PIL import Image, ImageChops, ImageDraw

from tests.compose import scenario
from workersai.testing import RecordedRequest, Reply

FLUX_1 = "@cf/black-forest-labs/flux-1-schnell"
FLUX_2 = ("@cf/black-forest-labs/flux-2-klein-9b", "@cf/black-forest-labs/flux-2-dev")
STABLE_DIFFUSION = (
    "@cf/stabilityai/stable-diffusion-xl-base-1.0",
    "@cf/bytedance/stable-diffusion-xl-lightning",
    "@cf/lykon/dreamshaper-8-lcm",
)
IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
INPAINTING = "@cf/runwayml/stable-diffusion-v1-5-inpainting"
PHOENIX = "@cf/leonardo/phoenix-1.0"
LUCID = "@cf/leonardo/lucid-origin"

# Inpainting paints this colour where the mask is white (tests check the exact pixels).
INPAINT_COLOUR = (250, 250, 250)


def _bad_input(message: str) -> Reply:
    # Schema violations come back as 400 / 5006 "AiError: Bad input: ..." (reference §2.3).
    return Reply.error(400, 5006, f"AiError: Bad input: Error: {message}")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _palette(prompt: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha256(prompt.encode()).digest()
    top = (40 + digest[0] % 80, 60 + digest[1] % 100, 120 + digest[2] % 120)
    bottom = (200 + digest[3] % 55, 120 + digest[4] % 100, 60 + digest[5] % 80)
    return top, bottom


def _picture(prompt: str, width: int = 256, height: int = 256) -> Image.Image:
    """A small scene for a prompt: a dusk gradient, the sea, and a lighthouse or a sun."""
    top, bottom = _palette(prompt)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    horizon = height * 2 // 3
    for y in range(horizon):
        t = y / max(horizon - 1, 1)
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    draw.rectangle((0, horizon, width, height), fill=(20, 50, 90))
    if "lighthouse" in prompt.lower():
        cx, base = width // 3, horizon + height // 20
        w, h = width // 14, height // 2
        draw.polygon(
            [(cx - w, base), (cx + w, base), (cx + w // 2, base - h), (cx - w // 2, base - h)],
            fill=(235, 235, 230),
        )
        for i in range(1, 4):
            y = base - h * i // 4
            draw.rectangle((cx - w, y - h // 16, cx + w, y), fill=(200, 40, 40))
        draw.rectangle((cx - w // 2, base - h - h // 8, cx + w // 2, base - h), fill=(40, 40, 40))
        draw.ellipse(
            (cx - w // 3, base - h - h // 9, cx + w // 3, base - h - h // 40), fill=(255, 230, 90)
        )
        draw.polygon(
            [(cx, base - h - h // 16), (width, base - h - h // 4), (width, base - h + h // 8)],
            fill=(255, 240, 160),
        )
    else:
        r = min(width, height) // 8
        draw.ellipse(
            (width * 2 // 3 - r, horizon - 3 * r, width * 2 // 3 + r, horizon - r), fill=bottom
        )
    return image


def _size(body: dict[str, Any], default: int = 256) -> tuple[int, int]:
    return int(body.get("width", default)), int(body.get("height", default))


def _image_from_uint8(values: Any) -> Image.Image | None:
    if not isinstance(values, list) or not values:
        return None
    return Image.open(io.BytesIO(bytes(values)))


# -- text-to-image ---------------------------------------------------------------------


@scenario
def flux_1_schnell(request: RecordedRequest) -> Reply | None:
    if request.model != FLUX_1:
        return None
    body = request.json() or {}
    extra = sorted(set(body) - {"prompt", "steps"})
    if extra:  # the schema has additionalProperties: false
        return _bad_input(f"additionalProperties at '/' not met: '{extra[0]}'")
    if "capacity" in body.get("prompt", ""):
        return Reply.error(429, 3040, "Capacity temporarily exceeded, please try again.")
    return Reply.result({"image": _b64(_jpeg(_picture(body["prompt"])))})


@scenario
def stable_diffusion(request: RecordedRequest) -> Reply | None:
    if request.model not in STABLE_DIFFUSION:
        return None
    body = request.json() or {}
    if body.get("num_steps", 1) > 20:
        return _bad_input("maximum at '/num_steps' not met")
    return Reply.binary(_png(_picture(body["prompt"], *_size(body))), "image/png")


@scenario
def img2img(request: RecordedRequest) -> Reply | None:
    if request.model != IMG2IMG:
        return None
    body = request.json() or {}
    source = _image_from_uint8(body.get("image"))
    if source is None:
        return _bad_input("img2img needs 'image'")
    strength = float(body.get("strength", 1))
    painted = _picture(body["prompt"], *source.size)
    result = Image.blend(source.convert("RGB"), painted, min(max(strength, 0.0), 1.0))
    return Reply.binary(_png(result), "image/png")


@scenario
def inpainting(request: RecordedRequest) -> Reply | None:
    if request.model != INPAINTING:
        return None
    body = request.json() or {}
    source, mask = _image_from_uint8(body.get("image")), _image_from_uint8(body.get("mask"))
    if source is None or mask is None:
        return _bad_input("inpainting needs 'image' and 'mask'")
    result = source.convert("RGB")
    result.paste(INPAINT_COLOUR, (0, 0, *result.size), mask.convert("L").resize(result.size))
    return Reply.binary(_png(result), "image/png")


def _form(request: RecordedRequest) -> dict[str, Any]:
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        fields[str(name)] = payload if part.get_filename() else payload.decode()
    return fields


@scenario
def flux_2(request: RecordedRequest) -> Reply | None:
    if request.model not in FLUX_2:
        return None
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return _bad_input("required properties at '/' are 'multipart'")
    form = _form(request)
    if "prompt" not in form:
        return _bad_input("required form field 'prompt' missing")
    width, height = int(form.get("width", 256)), int(form.get("height", 256))
    image = _picture(form["prompt"], width, height)
    reference = form.get("input_image_0")
    if isinstance(reference, bytes):
        # "Reference" conditioning: the input image, resized and warmed up.
        ref = Image.open(io.BytesIO(reference)).convert("RGB").resize((width, height))
        image = ImageChops.multiply(ref, Image.new("RGB", (width, height), (255, 220, 180)))
    return Reply.result({"image": _b64(_jpeg(image))})


@scenario
def leonardo(request: RecordedRequest) -> Reply | None:
    if request.model not in (PHOENIX, LUCID):
        return None
    body = request.json() or {}
    image = _picture(body["prompt"], *_size(body, 256))
    if request.model == PHOENIX:
        return Reply.binary(_jpeg(image), "image/jpeg")
    return Reply.result({"image": _b64(_jpeg(image))})


# -- speech ------------------------------------------------------------------------------

TRANSCRIPT = "Hello from Workers AI."
_WORDS = [
    {"word": "Hello", "start": 0.0, "end": 0.06},
    {"word": "from", "start": 0.06, "end": 0.11},
    {"word": "Workers", "start": 0.11, "end": 0.18},
    {"word": "AI.", "start": 0.18, "end": 0.25},
]
_VTT = "WEBVTT\n\n00:00.000 --> 00:00.110\nHello from\n\n00:00.110 --> 00:00.250\nWorkers AI.\n\n"


@scenario
def whisper(request: RecordedRequest) -> Reply | None:
    if request.model not in ("@cf/openai/whisper", "@cf/openai/whisper-tiny-en"):
        return None
    if not request.body.startswith(b"RIFF"):
        return _bad_input("oneOf at '/' not met, 0 matches: expected binary audio")
    return Reply.result({"text": " " + TRANSCRIPT, "word_count": 4, "words": _WORDS, "vtt": _VTT})


@scenario
def whisper_turbo(request: RecordedRequest) -> Reply | None:
    if request.model != "@cf/openai/whisper-large-v3-turbo":
        return None
    body = request.json() or {}
    if not isinstance(body.get("audio"), str):
        return _bad_input("Type mismatch of '/audio', 'array' not in 'string'")
    audio = base64.b64decode(body["audio"])
    if not audio.startswith(b"RIFF"):
        return _bad_input("audio is not a supported format")
    if body.get("task") == "translate":
        text, language = "Hello from Workers AI.", "fr"
    else:
        text, language = TRANSCRIPT, body.get("language", "en")
    return Reply.result(
        {
            "transcription_info": {
                "language": language,
                "language_probability": 0.97,
                "duration": 0.25,
                "duration_after_vad": 0.25,
            },
            "text": text,
            "word_count": 4,
            "segments": [
                {
                    "start": 0.0,
                    "end": 0.11,
                    "text": " Hello from",
                    "temperature": 0.0,
                    "avg_logprob": -0.21,
                    "compression_ratio": 0.8,
                    "no_speech_prob": 0.01,
                    "words": _WORDS[:2],
                },
                {
                    "start": 0.11,
                    "end": 0.25,
                    "text": " Workers AI.",
                    "temperature": 0.0,
                    "avg_logprob": -0.18,
                    "compression_ratio": 0.8,
                    "no_speech_prob": 0.01,
                    "words": _WORDS[2:],
                },
            ],
            "vtt": _VTT,
        }
    )


@scenario
def nova_3(request: RecordedRequest) -> Reply | None:
    if request.model != "@cf/deepgram/nova-3":
        return None
    if not request.headers.get("content-type", "").startswith("audio/"):
        return _bad_input("audio must be sent with an audio/* Content-Type")
    words = [
        {
            **w,
            "word": w["word"].lower().strip("."),
            "punctuated_word": w["word"],
            "confidence": 0.99,
        }
        for w in _WORDS
    ]
    return Reply.result(
        {
            "metadata": {"duration": 0.25, "channels": 1, "models": ["nova-3"]},
            "results": {
                "channels": [
                    {
                        "alternatives": [
                            {"transcript": TRANSCRIPT, "confidence": 0.99, "words": words}
                        ],
                        "detected_language": request.query.get("language", "en"),
                    }
                ]
            },
        }
    )


def _mp3(frames: int = 3) -> bytes:
    """An ID3v2 tag and silent MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz)."""
    frame = b"\xff\xfb\x90\x64" + bytes(413)
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + frame * frames


@scenario
def text_to_speech(request: RecordedRequest) -> Reply | None:
    if request.model == "@cf/myshell-ai/melotts":
        body = request.json() or {}
        if "prompt" not in body:
            return _bad_input("required properties at '/' are 'prompt'")
        return Reply.result({"audio": _b64(_mp3())})
    if request.model == "@cf/deepgram/aura-2-en":
        body = request.json() or {}
        if "text" not in body:
            return _bad_input("required properties at '/' are 'text'")
        return Reply.binary(_mp3(), "audio/mpeg")
    return None


# -- text and vision tasks ---------------------------------------------------------------

_TRANSLATIONS = {
    ("Hello, world", "fr"): "Bonjour le monde",
    ("The weather is lovely today.", "de"): "Das Wetter ist heute herrlich.",
    ("Good morning", "ja"): "おはようございます",
}


@scenario
def m2m100(request: RecordedRequest) -> Reply | None:
    if request.model != "@cf/meta/m2m100-1.2b":
        return None
    body = request.json() or {}
    translated = _TRANSLATIONS.get((body.get("text"), body.get("target_lang")))
    if translated is None:
        return None
    return Reply.result({"translated_text": translated})


@scenario
def summaries(request: RecordedRequest) -> Reply | None:
    # summarize() asks a chat model (bart-large-cnn was retired on 2026-05-30, §10.4).
    body = request.json() or {}
    messages = body.get("messages") or []
    first = messages[0] if messages and isinstance(messages[0], dict) else {}
    if first.get("role") != "system" or not str(first.get("content", "")).startswith(
        "Summarize the text the user sends"
    ):
        return None
    summary = "Workers AI runs machine learning models on Cloudflare's global network."
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages) + 12
    return Reply.result(
        {
            "response": summary,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": 14,
                "total_tokens": prompt_tokens + 14,
            },
        }
    )


@scenario
def distilbert(request: RecordedRequest) -> Reply | None:
    if request.model != "@cf/huggingface/distilbert-sst-2-int8":
        return None
    text = (request.json() or {}).get("text", "")
    positive = 0.9998 if "great" in text else 0.0132
    return Reply.result(
        [
            {"label": "NEGATIVE", "score": round(1 - positive, 4)},
            {"label": "POSITIVE", "score": positive},
        ]
    )


def _raw_image(request: RecordedRequest) -> Image.Image | None:
    if not request.headers.get("content-type", "").startswith("image/"):
        return None
    return Image.open(io.BytesIO(request.body))


@scenario
def resnet(request: RecordedRequest) -> Reply | None:
    if request.model != "@cf/microsoft/resnet-50":
        return None
    if _raw_image(request) is None:
        return _bad_input("oneOf at '/' not met, 0 matches")
    return Reply.result(
        [
            {"label": "YAWL", "score": 0.4128},
            {"label": "SEASHORE", "score": 0.2231},
            {"label": "CATAMARAN", "score": 0.1187},
            {"label": "SCHOONER", "score": 0.0921},
            {"label": "LAKESIDE", "score": 0.0353},
        ]
    )


@scenario
def detr(request: RecordedRequest) -> Reply | None:
    if request.model != "@cf/facebook/detr-resnet-50":
        return None
    image = _raw_image(request)
    if image is None:
        return _bad_input("oneOf at '/' not met, 0 matches")
    return Reply.result(
        [
            {
                "score": 0.4512,
                "label": "kite",
                "box": {"xmin": 40, "ymin": 6, "xmax": 54, "ymax": 20},
            },
            {
                "score": 0.9731,
                "label": "boat",
                "box": {"xmin": 14, "ymin": 20, "xmax": 34, "ymax": 44},
            },
        ]
    )


@scenario
def llava(request: RecordedRequest) -> Reply | None:
    if request.model != "@cf/llava-hf/llava-1.5-7b-hf":
        return None
    body = request.json() or {}
    image = _image_from_uint8(body.get("image"))
    if image is None:
        return _bad_input("required properties at '/' are 'image'")
    width, height = image.size
    prompt = body.get("prompt") or ""
    if "colour" in prompt or "color" in prompt:
        description = " The sail is white and the sea is dark blue."
    else:
        description = (
            f" The image shows a small sailboat on a calm sea under a blue sky with a yellow "
            f"sun ({width}x{height} pixels)."
        )
    return Reply.result({"description": description})
