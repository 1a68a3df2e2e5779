"""The task table and the typed client methods (``client.translate``, ``generate_image``...).

Cassette tests replay composed exchanges in the documented formats (tests/compose/media.py;
wire reference §7, §8): matching is on method, URL and body, so each replay also proves the
request bytes are the ones recorded — raw audio, byte arrays and multipart forms included.
Loopback tests (``server``) check the headers a cassette does not keep.
"""

from __future__ import annotations

import base64
import inspect
import io
from pathlib import Path

import pytest
from PIL import Image

from tests.compose.media import INPAINT_COLOUR
from tests.conftest import LOOPBACK
from workersai import (
    TASKS,
    AsyncWorkersAI,
    AudioResult,
    BoundingBox,
    DetectedObject,
    ImageResult,
    InvalidInputError,
    Label,
    Transcript,
    UnexpectedResponseError,
    WorkersAI,
)
from workersai.audio import Segment, Word, parse_vtt
from workersai.tasks import AsyncTaskMethods, TaskMethods
from workersai.testing import Reply, WorkersAIServer

FIXTURES = Path(__file__).parent.parent / "fixtures"
PNG = (FIXTURES / "photo.png").read_bytes()
JPEG = (FIXTURES / "photo.jpg").read_bytes()
WAV = (FIXTURES / "speech.wav").read_bytes()


def _pixels(image: ImageResult) -> Image.Image:
    return image.to_pil().convert("RGB")


# -- the table and the methods ----------------------------------------------------------


def test_every_task_has_a_sync_and_an_async_method_with_the_same_signature() -> None:
    sync = {n: f for n, f in vars(TaskMethods).items() if not n.startswith("_")}
    async_ = {n: f for n, f in vars(AsyncTaskMethods).items() if not n.startswith("_")}
    assert set(sync) == set(async_)
    assert len(sync) == len(TASKS)
    for name, function in sync.items():
        assert inspect.iscoroutinefunction(async_[name])
        sync_sig, async_sig = inspect.signature(function), inspect.signature(async_[name])
        # Same parameters (after `self`, typed by each mixin's protocol) and return type.
        assert list(sync_sig.parameters.values())[1:] == list(async_sig.parameters.values())[1:]
        assert sync_sig.return_annotation == async_sig.return_annotation, name


def test_clients_expose_the_task_methods() -> None:
    assert isinstance(WorkersAI("a", "t"), TaskMethods)
    assert isinstance(AsyncWorkersAI("a", "t"), AsyncTaskMethods)


def test_a_model_of_another_task_is_rejected_before_any_request() -> None:
    client = WorkersAI("a", "t", base_url="http://127.0.0.1:9/client/v4")
    with pytest.raises(InvalidInputError) as info:
        client.translate("hi", "fr", model="@cf/meta/llama-3.1-8b-instruct-fast")
    assert str(info.value).startswith(
        "@cf/meta/llama-3.1-8b-instruct-fast is a Text Generation model, not Translation"
    )
    assert info.value.hint == "Use a Translation model such as @cf/meta/m2m100-1.2b."


def test_whisper_options_are_rejected_with_a_pointer_to_turbo() -> None:
    client = WorkersAI("a", "t", base_url="http://127.0.0.1:9/client/v4")
    with pytest.raises(InvalidInputError) as info:
        client.transcribe(WAV, model="@cf/openai/whisper", language="fr")
    assert str(info.value).startswith("@cf/openai/whisper does not accept language")
    assert "whisper-large-v3-turbo" in (info.value.hint or "")


# -- text tasks (cassettes) -------------------------------------------------------------


@pytest.mark.vcr
def test_translate() -> None:
    client = WorkersAI()
    assert client.translate("Hello, world", "fr") == "Bonjour le monde"
    assert client.translate("Good morning", "ja") == "おはようございます"


@pytest.mark.vcr
def test_summarize() -> None:
    text = "Workers AI lets you run machine learning models on Cloudflare's network. " * 5
    summary = WorkersAI().summarize(text, max_length=60)
    assert summary == "Workers AI runs machine learning models on Cloudflare's global network."


@pytest.mark.vcr
def test_classify_text_best_label_first() -> None:
    labels = WorkersAI().classify_text("This movie was great!")
    assert labels == [Label("POSITIVE", 0.9998), Label("NEGATIVE", 0.0002)]


@pytest.mark.vcr
def test_classify_image_sends_raw_bytes() -> None:
    labels = WorkersAI().classify_image(FIXTURES / "photo.jpg")
    assert labels[0] == Label("YAWL", 0.4128)
    assert [label.score for label in labels] == sorted((x.score for x in labels), reverse=True)


@pytest.mark.vcr
def test_detect_objects_sorted_by_score() -> None:
    found = WorkersAI().detect_objects(JPEG)
    assert found[0] == DetectedObject("boat", 0.9731, BoundingBox(14.0, 20.0, 34.0, 44.0))
    assert [obj.label for obj in found] == ["boat", "kite"]


@pytest.mark.vcr
def test_describe_image_with_and_without_a_prompt() -> None:
    client = WorkersAI()
    assert client.describe_image(PNG) == (
        "The image shows a small sailboat on a calm sea under a blue sky with a yellow sun "
        "(64x64 pixels)."
    )  # llava's leading space is gone; the size proves the image arrived intact
    answer = client.describe_image(PNG, "What colour is the sail?", max_tokens=40)
    assert answer == "The sail is white and the sea is dark blue."


# -- images (cassettes) -----------------------------------------------------------------


@pytest.mark.vcr
def test_flux_1_schnell_json_base64_jpeg(tmp_path: Path) -> None:
    image = WorkersAI().generate_image("a lighthouse at dusk, oil painting", num_steps=4)
    assert image.mime_type == "image/jpeg"  # detected from the bytes
    assert image.size == (256, 256)
    assert image.model == "@cf/black-forest-labs/flux-1-schnell"
    saved = image.save(tmp_path / "lighthouse.png")  # converted: the file is a real PNG
    with Image.open(saved) as png:
        assert png.format == "PNG"
        assert png.size == (256, 256)


@pytest.mark.vcr
@pytest.mark.parametrize(
    "model",
    [
        "@cf/stabilityai/stable-diffusion-xl-base-1.0",
        "@cf/bytedance/stable-diffusion-xl-lightning",
        "@cf/lykon/dreamshaper-8-lcm",
    ],
)
def test_stable_diffusion_family_raw_png(model: str) -> None:
    image = WorkersAI().generate_image(
        "a lighthouse on a cliff",
        model=model,
        negative_prompt="blurry",
        width=320,
        height=256,
        num_steps=8,
        guidance=7.5,
        seed=42,
    )
    assert image.mime_type == "image/png"
    assert image.size == (320, 256)
    assert image.model == model


@pytest.mark.vcr
def test_img2img_round_trip() -> None:
    image = WorkersAI().generate_image(
        "a stormy sunset",
        model="@cf/runwayml/stable-diffusion-v1-5-img2img",
        image=FIXTURES / "photo.png",
        strength=0.5,
    )
    result, source = _pixels(image), Image.open(io.BytesIO(PNG)).convert("RGB")
    assert result.size == source.size
    # Half the input, half the painting: the boat is still there, but changed.
    assert result.getpixel((24, 30)) != source.getpixel((24, 30))
    assert abs(result.getpixel((24, 30))[0] - source.getpixel((24, 30))[0]) < 128


@pytest.mark.vcr
def test_inpainting_round_trip_repaints_only_the_mask() -> None:
    image = WorkersAI().generate_image(
        "a full moon",
        model="@cf/runwayml/stable-diffusion-v1-5-inpainting",
        image=Image.open(FIXTURES / "photo.png"),
        mask=FIXTURES / "mask.png",
    )
    result, source = _pixels(image), Image.open(io.BytesIO(PNG)).convert("RGB")
    assert result.getpixel((47, 13)) == INPAINT_COLOUR  # inside the mask (the sun)
    assert result.getpixel((5, 60)) == source.getpixel((5, 60))  # the sea, untouched
    assert result.getpixel((24, 30)) == source.getpixel((24, 30))  # the sail, untouched


@pytest.mark.vcr
def test_flux_2_multipart_with_a_reference_image() -> None:
    image = WorkersAI().generate_image(
        "the same boat at night",
        model="@cf/black-forest-labs/flux-2-klein-9b",
        width=128,
        height=128,
        seed=7,
        image=PNG,
    )
    assert image.mime_type == "image/jpeg"
    assert image.size == (128, 128)
    # The reference came through the form: the composed answer is the photo, warmed up
    # (x 1, 0.86, 0.7), so its sea and sky are where the photo has them.
    pixels = _pixels(image)
    for (x, y), expected in (((100, 110), (30, 77, 105)), ((10, 10), (135, 164, 165))):
        assert all(abs(a - b) <= 12 for a, b in zip(pixels.getpixel((x, y)), expected, strict=True))


@pytest.mark.vcr
def test_flux_2_dev_prompt_only_is_still_multipart() -> None:
    image = WorkersAI().generate_image(
        "a lighthouse", model="@cf/black-forest-labs/flux-2-dev", steps=20, width=256, height=192
    )
    assert image.size == (256, 192)


@pytest.mark.vcr
@pytest.mark.parametrize("model", ["@cf/leonardo/phoenix-1.0", "@cf/leonardo/lucid-origin"])
def test_leonardo_models(model: str) -> None:
    image = WorkersAI().generate_image(
        "a lighthouse in fog", model=model, width=256, height=256, num_steps=10, guidance=4.0
    )
    # phoenix answers raw JPEG bytes, lucid-origin JSON base64: the same result either way.
    assert image.mime_type == "image/jpeg"
    assert image.size == (256, 256)


@pytest.mark.vcr
async def test_async_generate_image_and_translate() -> None:
    client = AsyncWorkersAI()
    image = await client.generate_image("a lighthouse at dusk, oil painting", num_steps=4)
    assert image.size == (256, 256)
    assert await client.translate("Hello, world", "fr") == "Bonjour le monde"
    await client.aclose()


@pytest.mark.vcr
def test_capacity_error_surfaces_typed() -> None:
    from workersai import CapacityExceededError

    client = WorkersAI(max_retries=0)
    with pytest.raises(CapacityExceededError) as info:
        client.generate_image("capacity test: a crowded stadium")
    assert info.value.code == 3040
    assert info.value.model == "@cf/black-forest-labs/flux-1-schnell"


# -- speech (cassettes) -----------------------------------------------------------------


@pytest.mark.vcr
def test_transcribe_turbo_segments_language_duration() -> None:
    transcript = WorkersAI().transcribe(FIXTURES / "speech.wav", language="en")
    assert transcript.text == "Hello from Workers AI."
    assert transcript.language == "en"
    assert transcript.duration == 0.25
    assert transcript.word_count == 4
    assert [s.text for s in transcript.segments] == ["Hello from", "Workers AI."]
    assert transcript.segments[1].words[0] == Word("Workers", 0.11, 0.18)
    assert [w.word for w in transcript.words] == ["Hello", "from", "Workers", "AI."]
    assert transcript.vtt is not None
    assert transcript.vtt.startswith("WEBVTT")


@pytest.mark.vcr
def test_transcribe_turbo_translate_task() -> None:
    transcript = WorkersAI().transcribe(WAV, task="translate")
    assert transcript.language == "fr"


@pytest.mark.vcr
@pytest.mark.parametrize("model", ["@cf/openai/whisper", "@cf/openai/whisper-tiny-en"])
def test_transcribe_whisper_raw_body_segments_from_vtt(model: str) -> None:
    transcript = WorkersAI().transcribe(WAV, model=model)
    assert transcript.text == "Hello from Workers AI."  # leading space stripped
    assert transcript.segments == (
        Segment("Hello from", 0.0, 0.11),
        Segment("Workers AI.", 0.11, 0.25),
    )
    assert transcript.words[-1] == Word("AI.", 0.18, 0.25)
    assert transcript.language is None


@pytest.mark.vcr
def test_transcribe_nova_3_deepgram_shape() -> None:
    transcript = WorkersAI().transcribe(
        FIXTURES / "speech.wav", model="@cf/deepgram/nova-3", language="en", smart_format=True
    )
    assert transcript.text == "Hello from Workers AI."
    assert [w.word for w in transcript.words] == ["Hello", "from", "Workers", "AI."]
    assert transcript.duration == 0.25
    assert transcript.language == "en"


@pytest.mark.vcr
async def test_async_transcribe() -> None:
    client = AsyncWorkersAI()
    transcript = await client.transcribe(WAV)
    assert transcript.text == "Hello from Workers AI."
    await client.aclose()


@pytest.mark.vcr
def test_speak_melotts_base64_and_aura_raw(tmp_path: Path) -> None:
    client = WorkersAI()
    melo = client.speak("Hello from Workers AI", lang="en")
    aura = client.speak("Hello from Workers AI", model="@cf/deepgram/aura-2-en", speaker="luna")
    assert melo.mime_type == aura.mime_type == "audio/mpeg"
    assert melo.data == aura.data
    assert melo.save(tmp_path / "hello").name == "hello.mp3"
    assert '<audio controls src="data:audio/mpeg;base64,' in melo._repr_html_()


# -- request shapes on the wire (loopback) ----------------------------------------------


@pytest.fixture
def client(server: WorkersAIServer) -> WorkersAI:
    return WorkersAI("acct", "token", base_url=server.base_url, max_retries=0)


loopback = LOOPBACK


@loopback
def test_wire_whisper_raw_audio_with_its_type(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(Reply.result({"text": "hi"}))
    client.transcribe(FIXTURES / "speech.wav", model="@cf/openai/whisper", mime_type="audio/x-wav")
    [request] = server.requests
    assert request.body == WAV
    assert request.headers["content-type"] == "audio/wav"  # the bytes beat the caller's guess


@loopback
def test_wire_turbo_base64_json(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(Reply.result({"text": "hi"}))
    client.transcribe(WAV, language="en", vad_filter=True, beam_size=5)
    body = server.requests[0].json()
    assert body == {
        "audio": base64.b64encode(WAV).decode(),
        "language": "en",
        "vad_filter": True,
        "beam_size": 5,
    }
    assert server.requests[0].headers["content-type"] == "application/json"


@loopback
def test_wire_turbo_options_are_validated(client: WorkersAI) -> None:
    with pytest.raises(InvalidInputError, match="beam_size"):
        client.transcribe(WAV, beam_size=0)


@loopback
def test_wire_nova_3_options_in_the_query(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(Reply.result({"results": {"channels": [{"alternatives": [{}]}]}}))
    client.transcribe(WAV, model="@cf/deepgram/nova-3", smart_format=True, language="en")
    [request] = server.requests
    assert request.body == WAV
    assert request.headers["content-type"] == "audio/wav"
    assert request.query == {"smart_format": "true", "language": "en"}


@loopback
def test_wire_resnet_raw_image(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(Reply.result([{"label": "YAWL", "score": 0.5}]))
    client.classify_image(JPEG)
    assert server.requests[0].body == JPEG
    assert server.requests[0].headers["content-type"] == "image/jpeg"


@loopback
def test_wire_flux_2_multipart_byte_for_byte(server: WorkersAIServer, client: WorkersAI) -> None:
    server.enqueue(Reply.result({"image": base64.b64encode(PNG).decode()}))
    client.generate_image(
        "a fox", model="@cf/black-forest-labs/flux-2-klein-9b", width=256, image=JPEG
    )
    # Pinned literally (not re-encoded with Multipart, which would check the encoder against
    # itself): the boundary is derived from the content, so these bytes never change.
    boundary = b"workersai-c7a5600a2bff8db5675cb56f468bf7c8"
    expected_body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="prompt"\r\n\r\n'
        b"a fox\r\n"
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="width"\r\n\r\n'
        b"256\r\n"
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="input_image_0"; filename="input_image_0.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + JPEG + b"\r\n"
        b"--" + boundary + b"--\r\n"
    )
    [request] = server.requests
    assert request.body == expected_body
    assert request.headers["content-type"] == "multipart/form-data; boundary=" + boundary.decode()


@loopback
def test_wire_tts_field_per_model(server: WorkersAIServer, client: WorkersAI) -> None:
    mp3 = b"\xff\xfb\x90\x64" + bytes(60)
    server.enqueue(
        Reply.result({"audio": base64.b64encode(mp3).decode()}), Reply.binary(mp3, "audio/mpeg")
    )
    client.speak("hola", lang="es")
    client.speak("hello", model="@cf/deepgram/aura-1", speaker="asteria")
    assert server.requests[0].json() == {"prompt": "hola", "lang": "es"}
    assert server.requests[1].json() == {"text": "hello", "speaker": "asteria"}


@loopback
def test_wire_an_error_envelope_is_an_error_not_an_image(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    from workersai import ModelInputError

    server.enqueue(Reply.error(400, 5006, "AiError: Bad input: Error: oneOf at '/' not met"))
    with pytest.raises(ModelInputError):
        client.generate_image("a fox", model="@cf/stabilityai/stable-diffusion-xl-base-1.0")


@loopback
def test_wire_a_json_answer_without_image_is_unexpected(
    server: WorkersAIServer, client: WorkersAI
) -> None:
    server.enqueue(Reply.result({"response": "I cannot draw"}))
    with pytest.raises(UnexpectedResponseError, match="answered without an image"):
        client.generate_image("a fox")


# -- parsers ----------------------------------------------------------------------------


def test_labels_and_objects_tolerate_a_response_wrapper() -> None:
    labels = TASKS["text-classification"].parse({"response": [{"label": "A", "score": 1}]}, "m")
    assert labels == [Label("A", 1.0)]
    objects = TASKS["object-detection"].parse([{"label": "cat", "score": 0.5}], "m")
    assert objects == [DetectedObject("cat", 0.5, BoundingBox(0.0, 0.0, 0.0, 0.0))]
    with pytest.raises(UnexpectedResponseError, match="a list of labels"):
        TASKS["image-classification"].parse({"label": "x"}, "m")
    with pytest.raises(UnexpectedResponseError, match="'translated_text'"):
        TASKS["translation"].parse({"text": "x"}, "m")


def test_parse_vtt_cues() -> None:
    vtt = (
        "WEBVTT\nKind: captions\n\nNOTE a comment\n\n1\n01:02:03.5 --> 01:02:04,250 align:start\n"
        "first line\nsecond line\n\n00:05.000 --> 00:06.000\n\n"
    )
    assert parse_vtt(vtt) == [Segment("first line second line", 3723.5, 3724.25)]


def test_transcript_metadata_is_json_ready() -> None:
    transcript = Transcript.from_output(
        {"text": " hi there", "words": [{"word": "hi", "start": 0, "end": 0.5}]}, "m"
    )
    assert transcript.metadata() == {
        "model": "m",
        "word_count": 1,
        "words": [{"word": "hi", "start": 0.0, "end": 0.5}],
    }
    assert str(transcript) == "hi there"
    with pytest.raises(UnexpectedResponseError, match="without a transcript"):
        Transcript.from_output({"segments": []}, "m")


def test_audio_result_sniffs_and_falls_back_to_the_catalog() -> None:
    assert AudioResult.from_output(WAV, "@cf/deepgram/aura-1").mime_type == "audio/wav"
    pcm = bytes(range(10, 90))  # linear16 with container "none": no header
    assert AudioResult.from_output(pcm, "@cf/deepgram/aura-1").mime_type == "audio/mpeg"
    with pytest.raises(UnexpectedResponseError, match="without audio"):
        AudioResult.from_output({"audio": ""}, "@cf/myshell-ai/melotts")


def test_image_input_to_audio_is_rejected() -> None:
    client = WorkersAI("a", "t", base_url="http://127.0.0.1:9/client/v4")
    with pytest.raises(InvalidInputError, match="audio input is image/png"):
        client.transcribe(PNG)


def test_transcript_segments_as_documents() -> None:
    transcript = Transcript.from_output(
        {
            "text": "Hello there. General Kenobi.",
            "segments": [
                {
                    "start": 0,
                    "end": 1.5,
                    "text": " Hello there.",
                    "words": [{"word": "Hello", "start": 0, "end": 0.6}],
                },
                {"start": 1.5, "end": 3, "text": "General Kenobi."},
            ],
            "transcription_info": {"language": "en", "duration": 3.0},
        },
        "@cf/openai/whisper-large-v3-turbo",
    )
    assert transcript.segment_documents() == [
        (
            "Hello there.",
            {
                "model": "@cf/openai/whisper-large-v3-turbo",
                "language": "en",
                "segment": 0,
                "start": 0.0,
                "end": 1.5,
                "words": [{"word": "Hello", "start": 0.0, "end": 0.6}],
            },
        ),
        (
            "General Kenobi.",
            {
                "model": "@cf/openai/whisper-large-v3-turbo",
                "language": "en",
                "segment": 1,
                "start": 1.5,
                "end": 3.0,
                "words": [],
            },
        ),
    ]
    # No segments (a bare transcript): one document with the whole text and its metadata.
    plain = Transcript.from_output({"text": "hi there"}, "m")
    assert plain.segment_documents() == [("hi there", plain.metadata())]


@pytest.mark.parametrize(
    ("recorded", "sent", "match"),
    [
        (JPEG, JPEG, True),
        # One byte differs (JPEG's end marker FF D9 → FF D8): a different image, although
        # both decode to the same U+FFFD replacement characters.
        (JPEG, JPEG[:-1] + b"\xd8", False),
        (b"RIFF\xff\xfe audio", b"RIFF\xfe\xff audio", False),
        (b'{"text": ["a"]}', b'{"text":["a"]}', True),  # JSON: compared as values
        (b'{"id": "call_' + b"a" * 24 + b'"}', b'{"id": "call_' + b"b" * 24 + b'"}', True),
        (b"--b\r\nprompt\r\n--b--", b"--b\r\nprompt!\r\n--b--", False),
        (b"--b\r\nprompt\r\n--b--", "--b\r\nprompt\r\n--b--", True),
    ],
)
def test_cassette_matcher_compares_binary_bodies_byte_for_byte(
    recorded: bytes | str, sent: bytes | str, match: bool
) -> None:
    from vcr.request import Request

    from tests._cassettes import json_body_matcher

    url = "https://api.cloudflare.com/client/v4/accounts/ACCOUNT_ID/ai/run/m"
    first, second = Request("POST", url, recorded, {}), Request("POST", url, sent, {})
    if match:
        json_body_matcher(first, second)
    else:
        with pytest.raises(AssertionError):
            json_body_matcher(first, second)
