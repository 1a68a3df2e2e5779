"""Scenarios for images, speech and the small tasks (tests of workersai.tasks, the LangChain
image/audio classes and the LlamaIndex tool and reader).

Answers follow the documented wire formats (reference §7, §8 and the catalog's output
schemas): flux-1-schnell, lucid-origin and FLUX.2 answer ``{"image": base64}`` in the
envelope, the Stable Diffusion family raw PNG bytes, phoenix-1.0 raw JPEG bytes; Whisper
answers ``{text, word_count, words, vtt}``, turbo adds ``segments``/``transcription_info``,
nova-3 answers in Deepgram's shape. The pictures are real images drawn with Pillow that
follow the prompt — its sky (dusk, night, flat poster colours), a lighthouse (on rocks), a
sailboat, a sun, a storm's clouds, rain and lightning, a watercolour's softness — and the
input image for img2img (a "stormy night" turns the input dark and stormy), inpainting and
FLUX.2 references, so a test can decode and inspect them and notebook 03 shows what each call
does. These are composed answers, not live recordings.
"""

from __future__ import annotations

import base64
import hashlib
import io
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter

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


Colour = tuple[int, int, int]
_NIGHT = ("night", "storm", "dark")


def _has(prompt: str, *words: str) -> bool:
    return any(word in prompt for word in words)


def _gradient(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], top: Colour, bottom: Colour
) -> None:
    left, upper, right, lower = box
    for y in range(upper, lower):
        t = (y - upper) / max(lower - upper - 1, 1)
        draw.line(
            [(left, y), (right, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )


def _sky(draw: ImageDraw.ImageDraw, prompt: str, width: int, horizon: int) -> None:
    if _has(prompt, "flat colour", "flat color", "poster"):
        # flat bands, as a screen-printed poster would have them
        bands = ((250, 200, 120), (245, 160, 90), (225, 110, 80))
        for i, colour in enumerate(bands):
            draw.rectangle((0, horizon * i // 3, width, horizon * (i + 1) // 3), fill=colour)
    elif _has(prompt, *_NIGHT):
        _gradient(draw, (0, 0, width, horizon), (10, 12, 30), (45, 50, 75))
    elif _has(prompt, "dusk", "sunset", "warm"):
        _gradient(draw, (0, 0, width, horizon), (60, 70, 170), (250, 150, 90))
    else:
        _gradient(draw, (0, 0, width, horizon), *_palette(prompt))


def _sun(draw: ImageDraw.ImageDraw, width: int, height: int, horizon: int) -> None:
    r = min(width, height) // 9
    cx = width * 2 // 3
    draw.ellipse((cx - r, horizon - r * 3 // 2, cx + r, horizon + r // 2), fill=(255, 170, 70))
    for i in range(4):  # its reflection on the water
        y = horizon + (i + 1) * (height - horizon) // 6
        half = r * (4 - i) // 4
        draw.line(
            [(cx - half, y), (cx + half, y)], fill=(240, 150, 80), width=max(height // 100, 2)
        )


def _rocks(draw: ImageDraw.ImageDraw, cx: int, base: int, size: int) -> None:
    for dx, w, h in (
        (-size * 2, size * 2, size),
        (-size // 2, size * 3, size * 3 // 2),
        (size * 2, size * 2, size),
    ):
        draw.polygon(
            [
                (cx + dx - w // 2, base + size // 2),
                (cx + dx, base - h // 2),
                (cx + dx + w // 2, base + size // 2),
            ],
            fill=(70, 60, 55),
        )


def _lighthouse(
    draw: ImageDraw.ImageDraw, width: int, height: int, horizon: int, rocky: bool
) -> None:
    cx, base = width // 3, horizon + height // 20
    w, h = width // 14, height // 2
    if rocky:
        _rocks(draw, cx, base, max(w, 4))
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


def _sailboat(draw: ImageDraw.ImageDraw, width: int, height: int, horizon: int) -> None:
    cx = width * 2 // 5
    size = min(width, height) // 3
    waterline = horizon + (height - horizon) // 3
    draw.polygon(  # the hull
        [
            (cx - size * 3 // 4, waterline - size // 6),
            (cx + size * 3 // 4, waterline - size // 6),
            (cx + size // 2, waterline + size // 10),
            (cx - size // 2, waterline + size // 10),
        ],
        fill=(110, 60, 35),
    )
    mast_top = waterline - size * 3 // 2
    draw.line(
        [(cx, waterline - size // 6), (cx, mast_top)], fill=(60, 40, 30), width=max(size // 30, 2)
    )
    draw.polygon(  # mainsail and jib
        [
            (cx + size // 30, mast_top + size // 12),
            (cx + size // 30, waterline - size // 4),
            (cx + size * 2 // 3, waterline - size // 4),
        ],
        fill=(250, 250, 245),
    )
    draw.polygon(
        [
            (cx - size // 30, mast_top + size // 5),
            (cx - size // 30, waterline - size // 4),
            (cx - size // 2, waterline - size // 4),
        ],
        fill=(235, 235, 228),
    )


def _storm(image: Image.Image, amount: float) -> Image.Image:
    """``image`` on a stormy night: darker and bluer, heavy clouds, rain and a lightning bolt;
    ``amount`` (0-1) is how far it goes. Its lights (bright yellow pixels) keep shining."""
    width, height = image.size
    rgb = image.convert("RGB")
    darker = ImageEnhance.Brightness(rgb).enhance(max(1 - 1.3 * amount, 0.15))
    night = ImageChops.multiply(darker, Image.new("RGB", rgb.size, (150, 170, 255)))
    overlay = Image.new("RGBA", rgb.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    alpha = int(140 + 110 * amount)
    r = width // 5
    for i in range(7):  # a heavy cloud bank at the top, another low over the sea
        cx = width * i // 6
        draw.ellipse(
            (cx - r, -r // 2 + (i % 2) * r // 4, cx + r, r * 2 // 3 + (i % 3) * r // 5),
            fill=(55, 58, 70, alpha),
        )
    horizon = height * 2 // 3
    for i in range(4):
        cx = width // 2 + width * i // 6
        draw.ellipse(
            (cx - r, horizon - r, cx + r, horizon + r // 4 - (i % 2) * r // 5),
            fill=(45, 48, 60, alpha),
        )
    for i in range(0, width + height, max(width // 24, 4)):  # slanting rain
        draw.line(
            [(i, 0), (i - height // 3, height)],
            fill=(190, 200, 220, int(60 * amount) + 20),
            width=1,
        )
    stormy = Image.alpha_composite(night.convert("RGBA"), overlay).convert("RGB")
    red, green, blue = (band.point(lambda v: 255 if v > 185 else 0) for band in rgb.split())
    not_white = ImageChops.invert(blue)  # yellow light, not a white wall
    stormy.paste(rgb, (0, 0), ImageChops.multiply(ImageChops.multiply(red, green), not_white))
    x = width * 5 // 6
    bolt = [
        (x, height // 6),
        (x - width // 16, height // 3),
        (x + width // 40, height // 3),
        (x - width // 12, height * 3 // 5),
    ]
    ImageDraw.Draw(stormy).line(bolt, fill=(255, 255, 225), width=max(width // 60, 2))
    return stormy


def _picture(prompt: str, width: int = 256, height: int = 256) -> Image.Image:
    """A small drawing that follows the prompt: the sky it names (dusk, night, flat poster
    colours), the sea, and what it asks for — a lighthouse (on rocks), a sailboat, a sun;
    a storm adds clouds, rain and lightning; a watercolour is softened."""
    text = prompt.lower()
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    horizon = height * 2 // 3
    _sky(draw, text, width, horizon)
    sea = (15, 30, 55) if _has(text, *_NIGHT) else (20, 50, 90)
    draw.rectangle((0, horizon, width, height), fill=sea)
    if _has(text, "sun", "dusk") and not _has(text, *_NIGHT):
        _sun(draw, width, height, horizon)
    if "lighthouse" in text:
        _lighthouse(draw, width, height, horizon, rocky=_has(text, "rock", "cliff", "coast"))
    if _has(text, "sailboat", "boat", "yacht"):
        _sailboat(draw, width, height, horizon)
    if _has(text, "storm"):
        image = _storm(image, 0.6)
    if _has(text, "flat colour", "flat color", "poster"):
        frame = max(min(width, height) // 24, 2)
        ImageDraw.Draw(image).rectangle(
            (0, 0, width - 1, height - 1), outline=(250, 240, 215), width=frame
        )
    if _has(text, "watercolor", "watercolour"):
        image = image.filter(ImageFilter.GaussianBlur(radius=max(width // 400, 1)))
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
    strength = min(max(float(body.get("strength", 1)), 0.0), 1.0)
    prompt = body["prompt"].lower()
    if _has(prompt, *_NIGHT):
        # "the same lighthouse on a stormy night": the input, turned dark and stormy
        result = _storm(source, strength)
    else:
        painted = _picture(body["prompt"], *source.size)
        result = Image.blend(source.convert("RGB"), painted, strength)
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
