"""Images in the core: type sniffing, the result type, input coercion, families, multipart.

No network here: request bodies are built and inspected directly (the wire exchanges are in
test_tasks.py).
"""

from __future__ import annotations

import base64
import io
import sys
import warnings
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

import pytest
from IPython.core.formatters import DisplayFormatter
from PIL import Image

from workersai import ImageResult, InvalidInputError, Multipart, UnexpectedResponseError
from workersai._media import read_media, sniff_mime
from workersai.images import (
    ImageNotConvertedWarning,
    build_image_request,
    check_image_params,
    coerce_image,
    image_family,
    image_size,
    image_tool_schema,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
PNG = (FIXTURES / "photo.png").read_bytes()
JPEG = (FIXTURES / "photo.jpg").read_bytes()
MASK = (FIXTURES / "mask.png").read_bytes()
WAV = (FIXTURES / "speech.wav").read_bytes()

FLUX_1 = "@cf/black-forest-labs/flux-1-schnell"
FLUX_2_KLEIN = "@cf/black-forest-labs/flux-2-klein-9b"
FLUX_2_DEV = "@cf/black-forest-labs/flux-2-dev"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
INPAINTING = "@cf/runwayml/stable-diffusion-v1-5-inpainting"
PHOENIX = "@cf/leonardo/phoenix-1.0"


def _encoded(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "teal").save(buffer, format=fmt)
    return buffer.getvalue()


# -- sniffing and sizes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (_encoded("WEBP"), "image/webp"),
        (_encoded("GIF"), "image/gif"),
        (_encoded("BMP"), "image/bmp"),
        (WAV, "audio/wav"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(8), "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + bytes(12), "audio/mpeg"),
        (b"\xff\xf1\x50\x80" + bytes(12), "audio/aac"),
        (b"OggS\x00\x02" + bytes(10), "audio/ogg"),
        (b"fLaC\x00\x00\x00\x22" + bytes(8), "audio/flac"),
        (b'{"image": "x"}', None),
    ],
)
def test_media_type_comes_from_the_magic_number(data: bytes, mime: str | None) -> None:
    assert sniff_mime(data) == mime


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP"])
def test_image_size_is_read_from_the_header(fmt: str) -> None:
    assert image_size(_encoded(fmt, (123, 45))) == (123, 45)


def test_image_size_of_progressive_jpeg_and_lossless_webp() -> None:
    progressive = io.BytesIO()
    Image.new("RGB", (77, 33), "red").save(progressive, format="JPEG", progressive=True)
    lossless = io.BytesIO()
    Image.new("RGBA", (21, 9), "red").save(lossless, format="WEBP", lossless=True)
    assert image_size(progressive.getvalue()) == (77, 33)
    assert image_size(lossless.getvalue()) == (21, 9)
    assert image_size(b"not an image") is None


# -- ImageResult ---------------------------------------------------------------------------


def test_result_from_json_base64_detects_jpeg_not_png() -> None:
    # flux-1-schnell: {"image": base64}, JPEG although nothing says so (reference §8.1).
    image = ImageResult.from_output({"image": base64.b64encode(JPEG).decode()}, FLUX_1)
    assert image.mime_type == "image/jpeg"
    assert image.data == JPEG
    assert image.model == FLUX_1
    assert image.size == (64, 64)


def test_result_from_raw_bytes_and_from_a_data_uri() -> None:
    assert ImageResult.from_output(PNG, SDXL).mime_type == "image/png"
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert ImageResult.from_output({"image": uri}, FLUX_2_DEV).data == PNG


@pytest.mark.parametrize(
    "output",
    [{"image": "!!!not base64"}, {"response": "x"}, b"\x00\x01 no magic", {"image": "aGVsbG8="}],
)
def test_result_without_an_image_raises(output: object) -> None:
    with pytest.raises(UnexpectedResponseError, match=f"{FLUX_1} answered without an image"):
        ImageResult.from_output(output, FLUX_1)


def test_from_bytes_rejects_non_images() -> None:
    assert ImageResult.from_bytes(JPEG).format == "JPEG"
    with pytest.raises(InvalidInputError, match="not a PNG, JPEG"):
        ImageResult.from_bytes(WAV)


def test_base64_and_data_uri_round_trip() -> None:
    image = ImageResult.from_bytes(PNG)
    assert base64.b64decode(image.base64) == PNG
    assert image.data_uri.startswith("data:image/png;base64,")
    assert read_media(image.data_uri) == PNG
    assert bytes(image) == PNG
    assert len(image) == len(PNG)


def test_save_adds_the_right_suffix_and_keeps_the_bytes(tmp_path: Path) -> None:
    path = ImageResult.from_bytes(JPEG).save(tmp_path / "sub" / "picture")
    assert path == tmp_path / "sub" / "picture.jpg"
    assert path.read_bytes() == JPEG


def test_save_with_another_format_suffix_converts(tmp_path: Path) -> None:
    path = ImageResult.from_bytes(JPEG).save(tmp_path / "picture.png")
    assert path.suffix == ".png"
    assert sniff_mime(path.read_bytes()) == "image/png"
    with Image.open(path) as reopened:
        assert reopened.size == (64, 64)


@pytest.fixture
def without_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import PIL`` fails, as on a bare ``pip install workersai`` (a ``None`` entry in
    ``sys.modules`` makes the import system raise ImportError)."""
    for name in {"PIL", "PIL.Image", *(n for n in sys.modules if n.startswith("PIL."))}:
        monkeypatch.setitem(sys.modules, name, None)


def test_without_pillow_a_png_asked_as_png_is_written_as_is(
    without_pillow: None, tmp_path: Path
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: no conversion is needed
        path = ImageResult.from_bytes(PNG).save(tmp_path / "picture.png")
    assert path == tmp_path / "picture.png"
    assert path.read_bytes() == PNG


def test_without_pillow_a_jpeg_asked_as_png_is_kept_as_jpeg_next_to_it(
    without_pillow: None, tmp_path: Path
) -> None:
    # flux-1-schnell answers JPEG (§8.1); the README saves it as lighthouse.png.
    with pytest.warns(ImageNotConvertedWarning) as caught:
        path = ImageResult.from_bytes(JPEG).save(tmp_path / "lighthouse.png")
    assert path == tmp_path / "lighthouse.jpg"
    assert path.read_bytes() == JPEG  # the picture, byte for byte
    assert not (tmp_path / "lighthouse.png").exists()  # no file that lies about its format
    (warning,) = caught
    assert isinstance(warning.message, ImageNotConvertedWarning)
    assert warning.message.written == path
    assert warning.message.asked == tmp_path / "lighthouse.png"
    assert warning.message.reason == "converting JPEG to PNG needs Pillow (pip install pillow)"
    assert str(warning.message).startswith(f"saved {path} instead of {tmp_path / 'lighthouse.png'}")
    with pytest.raises(ImportError, match="pip install pillow"):
        ImageResult.from_bytes(JPEG).to_pil()  # asking for Pillow itself still says so


def test_the_fallback_never_overwrites_an_existing_file(
    without_pillow: None, tmp_path: Path
) -> None:
    (tmp_path / "lighthouse.jpg").write_bytes(b"yesterday's picture")
    with pytest.warns(ImageNotConvertedWarning):
        first = ImageResult.from_bytes(JPEG).save(tmp_path / "lighthouse.png")
    with pytest.warns(ImageNotConvertedWarning):
        second = ImageResult.from_bytes(JPEG).save(tmp_path / "lighthouse.png")
    assert (first.name, second.name) == ("lighthouse-2.jpg", "lighthouse-3.jpg")
    assert (tmp_path / "lighthouse.jpg").read_bytes() == b"yesterday's picture"
    assert first.read_bytes() == second.read_bytes() == JPEG


def test_a_format_convert_cannot_write_is_kept_too(tmp_path: Path) -> None:
    # With Pillow installed: BMP is a known image suffix that convert() does not write.
    with pytest.warns(ImageNotConvertedWarning, match="converting PNG to BMP is not supported"):
        path = ImageResult.from_bytes(PNG).save(tmp_path / "picture.bmp")
    assert path == tmp_path / "picture.png"
    assert path.read_bytes() == PNG


def test_a_conversion_pillow_fails_keeps_the_bytes(tmp_path: Path) -> None:
    # A JPEG header Pillow cannot decode: the bytes the model sent are still saved.
    broken = ImageResult(JPEG[:200], "image/jpeg", None)
    with pytest.warns(ImageNotConvertedWarning, match="failed in Pillow"):
        path = broken.save(tmp_path / "picture.png")
    assert path == tmp_path / "picture.jpg"
    assert path.read_bytes() == JPEG[:200]


def test_convert_rgba_png_to_jpeg_drops_alpha() -> None:
    rgba = ImageResult.from_bytes(_encoded("PNG", (8, 8), "RGBA"))
    jpeg = rgba.convert("image/jpeg")
    assert jpeg.mime_type == "image/jpeg"
    assert sniff_mime(jpeg.data) == "image/jpeg"
    assert rgba.convert("image/png") is rgba


def test_to_pil_opens_the_image() -> None:
    pil = ImageResult.from_bytes(PNG).to_pil()
    assert pil.size == (64, 64)
    assert pil.getpixel((47, 13))[:3] == (250, 210, 60)  # the sun of the fixture


def test_repr_is_short_and_never_contains_the_bytes() -> None:
    text = repr(ImageResult.from_output(PNG, SDXL))
    assert text == (
        f"ImageResult(mime_type='image/png', size=64x64, bytes={len(PNG)}, model='{SDXL}')"
    )
    assert ImageResult.from_output(PNG, SDXL).describe() == (
        f"64x64 PNG image ({len(PNG)} B) by {SDXL}"
    )


def test_jupyter_display_through_ipython_formatter() -> None:
    formatter = DisplayFormatter()
    png_bundle, _ = formatter.format(ImageResult.from_bytes(PNG))
    assert png_bundle["image/png"] == PNG  # _repr_png_ returns the PNG bytes
    assert "image/jpeg" not in png_bundle
    assert "text/html" not in png_bundle  # would outrank the image in Jupyter
    jpeg_bundle, _ = formatter.format(ImageResult.from_bytes(JPEG))
    assert jpeg_bundle["image/jpeg"] == JPEG
    assert "image/png" not in jpeg_bundle
    webp_bundle, _ = formatter.format(ImageResult.from_bytes(_encoded("WEBP")))
    assert webp_bundle["text/html"].startswith('<img src="data:image/webp;base64,')


# -- input coercion -----------------------------------------------------------------------


def test_coerce_image_accepts_every_documented_form(tmp_path: Path) -> None:
    pil = Image.open(io.BytesIO(PNG))
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    with (FIXTURES / "photo.png").open("rb") as handle:
        from_file = coerce_image(handle)
    assert from_file == PNG
    assert coerce_image(PNG) == PNG
    assert coerce_image(bytearray(PNG)) == PNG
    assert coerce_image(str(FIXTURES / "photo.png")) == PNG
    assert coerce_image(FIXTURES / "photo.png") == PNG
    assert coerce_image(uri) == PNG
    assert coerce_image(ImageResult.from_bytes(PNG)) == PNG
    # A Pillow image is encoded as PNG, pixels intact.
    encoded = coerce_image(pil)
    assert sniff_mime(encoded) == "image/png"
    assert Image.open(io.BytesIO(encoded)).tobytes() == pil.tobytes()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (WAV, "image is not a PNG, JPEG"),
        ("missing.png", "image file not found"),
        ("https://example.com/cat.png", "URLs are not fetched"),
        (b"", "image is empty"),
        (12, "image must be bytes, a file path"),
        ("data:image/png,rawtext", "must be base64-encoded"),
    ],
)
def test_coerce_image_rejects_bad_input(value: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        coerce_image(value)


def test_text_mode_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with path.open() as handle, pytest.raises(InvalidInputError, match="binary mode"):
        coerce_image(handle)


# -- families ----------------------------------------------------------------------------


def test_families_come_from_the_catalog() -> None:
    flux1 = image_family(FLUX_1)
    assert (flux1.name, flux1.accepts, flux1.max_images) == (
        "flux-1",
        frozenset({"prompt", "steps"}),
        0,
    )
    klein, dev = image_family(FLUX_2_KLEIN), image_family(FLUX_2_DEV)
    assert klein.multipart
    assert klein.max_images == 4
    assert "steps" not in klein.accepts  # klein runs a fixed 4 steps (CL-FLUX2)
    assert "steps" in dev.accepts
    sdxl = image_family("stable-diffusion-xl-base-1.0")  # short names resolve
    assert sdxl.name == "stable-diffusion"
    assert {"image", "mask", "strength", "num_steps"} <= sdxl.accepts
    assert not sdxl.needs_image
    assert image_family(IMG2IMG).needs_image
    assert not image_family(IMG2IMG).needs_mask
    assert image_family(INPAINTING).needs_mask
    assert image_family(PHOENIX).name == "leonardo"
    unknown = image_family("@cf/acme/brand-new-diffusion")
    assert unknown.accepts is None  # nothing is rejected for a model the catalog lacks


# -- request building and validation ----------------------------------------------------


def test_flux_1_takes_prompt_and_steps_and_num_steps_is_renamed() -> None:
    body = build_image_request(FLUX_1, {"prompt": "a fox", "num_steps": 4})
    assert body == {"prompt": "a fox", "steps": 4}


@pytest.mark.parametrize("field", ["width", "seed", "negative_prompt", "guidance"])
def test_flux_1_rejects_fields_it_does_not_take_naming_the_model(field: str) -> None:
    value = "blurry" if field == "negative_prompt" else 512
    with pytest.raises(InvalidInputError) as info:
        build_image_request(FLUX_1, {"prompt": "a fox", field: value})
    assert str(info.value).startswith(f"{FLUX_1} does not accept {field}; it takes prompt, steps")
    assert info.value.field == field


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        (FLUX_1, {"steps": 9}, f"steps=9 is out of range for {FLUX_1}"),
        (SDXL, {"num_steps": 21}, f"num_steps=21 is out of range for {SDXL}"),
        (SDXL, {"width": 4096}, f"width=4096 is out of range for {SDXL}"),
        (PHOENIX, {"guidance": 1.5}, f"guidance=1.5 is out of range for {PHOENIX}"),
        (SDXL, {"strength": 1.5}, "strength: Input should be less than or equal to 1"),
        (SDXL, {"steps": 4, "num_steps": 4}, "not both"),
        (FLUX_1, {"prompt": "x" * 2049}, f"prompt is 2049 characters; {FLUX_1} accepts at most"),
        (SDXL, {"width": "512"}, "width: Input should be a valid integer"),
    ],
)
def test_documented_ranges_are_checked_per_model(
    model: str, params: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(")):
        build_image_request(model, {"prompt": "a fox", **params})


def test_empty_strings_are_dropped() -> None:
    # phoenix rejects an empty negative_prompt (minLength 1): leaving it out is the intent.
    assert build_image_request(PHOENIX, {"prompt": "a fox", "negative_prompt": ""}) == {
        "prompt": "a fox"
    }


def test_img2img_sends_the_image_as_a_byte_array() -> None:
    body = build_image_request(
        IMG2IMG, {"prompt": "stormy", "image": FIXTURES / "photo.png", "strength": 0.5}
    )
    assert isinstance(body, dict)
    assert body["image"] == list(PNG)
    assert body["strength"] == 0.5


def test_inpainting_sends_image_and_mask() -> None:
    body = build_image_request(INPAINTING, {"prompt": "a moon", "image": PNG, "mask": MASK})
    assert isinstance(body, dict)
    assert bytes(body["image"]) == PNG
    assert bytes(body["mask"]) == MASK


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        (IMG2IMG, {}, "needs an input image"),
        (INPAINTING, {"image": PNG}, "needs a mask"),
        (FLUX_1, {"image": PNG}, f"{FLUX_1} does not take an input image"),
        (PHOENIX, {"image": PNG}, f"{PHOENIX} does not take an input image"),
        (FLUX_2_KLEIN, {"image": PNG, "mask": MASK}, "does not take a mask"),
        (FLUX_2_KLEIN, {"image": [PNG] * 5}, "at most 4 input image"),
        (SDXL, {"image": [PNG, PNG]}, "at most 1 input image"),
        (FLUX_2_KLEIN, {"steps": 8}, f"{FLUX_2_KLEIN} does not accept steps"),
        (SDXL, {}, None),
    ],
)
def test_input_images_per_family(
    model: str, params: dict[str, object], message: str | None
) -> None:
    if message is None:
        assert build_image_request(model, {"prompt": "a fox", **params}) == {"prompt": "a fox"}
        return
    with pytest.raises(InvalidInputError, match=message):
        build_image_request(model, {"prompt": "a fox", **params})


def test_flux_2_builds_a_multipart_form_with_reference_images() -> None:
    form = build_image_request(
        FLUX_2_DEV,
        {"prompt": "a lighthouse", "width": 512, "height": 256, "steps": 20, "image": [PNG, JPEG]},
    )
    assert isinstance(form, Multipart)
    assert dict(form.fields) == {
        "prompt": "a lighthouse",
        "width": "512",
        "height": "256",
        "steps": "20",
        "input_image_0": ("input_image_0.png", PNG, "image/png"),
        "input_image_1": ("input_image_1.jpg", JPEG, "image/jpeg"),
    }


def test_non_image_models_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="is a Text Generation model, not Text-to-Image"):
        check_image_params("@cf/meta/llama-3.1-8b-instruct-fast", {})


def test_unknown_models_pass_everything_through() -> None:
    body = build_image_request(
        "@cf/acme/brand-new-diffusion", {"prompt": "a fox", "style": "noir", "image": PNG}
    )
    assert body == {"prompt": "a fox", "style": "noir", "image": list(PNG)}


def test_prompt_is_required() -> None:
    with pytest.raises(InvalidInputError, match="needs a prompt"):
        build_image_request(SDXL, {"prompt": ""})


# -- tool schema -------------------------------------------------------------------------


def test_tool_schema_lists_only_what_the_model_takes() -> None:
    flux = image_tool_schema(FLUX_1).model_json_schema()
    assert set(flux["properties"]) == {"prompt", "num_steps"}
    assert flux["required"] == ["prompt"]
    assert flux["properties"]["num_steps"]["description"].endswith("At most 8.")
    sdxl = image_tool_schema(SDXL).model_json_schema()
    assert set(sdxl["properties"]) == {
        "prompt",
        "negative_prompt",
        "width",
        "height",
        "num_steps",
        "guidance",
        "seed",
    }
    assert "From 256 to 2048." in sdxl["properties"]["width"]["description"]
    assert "Default 7.5." in sdxl["properties"]["guidance"]["description"]


# -- multipart ---------------------------------------------------------------------------


def test_multipart_body_byte_for_byte() -> None:
    form = Multipart(
        {
            "prompt": "a sunset at the alps",
            "width": "1024",
            "input_image_0": ("ref.png", b"\x89PNG\r\n\x1a\n-bytes", "image/png"),
        }
    )
    body, content_type = form.encode()
    boundary = content_type.split("boundary=", 1)[1]
    assert content_type == f"multipart/form-data; boundary={boundary}"
    assert boundary.startswith("workersai-")
    assert len(boundary) == len("workersai-") + 32
    expected = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="prompt"\r\n\r\n'
            "a sunset at the alps\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="width"\r\n\r\n'
            "1024\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="input_image_0"; filename="ref.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + b"\x89PNG\r\n\x1a\n-bytes\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    assert body == expected


def test_multipart_boundary_is_deterministic_per_content() -> None:
    first = Multipart({"prompt": "a", "width": "512"}).encode()
    again = Multipart({"prompt": "a", "width": "512"}).encode()
    other = Multipart({"prompt": "b", "width": "512"}).encode()
    assert first == again  # retries and cassettes see identical bytes
    assert first[1] != other[1]


def test_multipart_parses_with_a_standard_parser_and_quotes_names() -> None:
    body, content_type = Multipart(
        {'say "hi"': "ünïcode ✓", "raw": b"\x00\x01", "file": ('a"b.png', PNG, "image/png")}
    ).encode()
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = list(message.iter_parts())
    assert [p.get_param("name", header="content-disposition") for p in parts] == [
        "say %22hi%22",
        "raw",
        "file",
    ]
    assert parts[0].get_payload(decode=True).decode() == "ünïcode ✓"
    assert parts[1].get_content_type() == "application/octet-stream"
    assert parts[1].get_payload(decode=True) == b"\x00\x01"
    assert parts[2].get_filename() == "a%22b.png"
    assert parts[2].get_payload(decode=True) == PNG
