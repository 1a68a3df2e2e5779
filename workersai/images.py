"""Images: the result type, input coercion, and the text-to-image model families.

Every Workers AI image model answers differently (wire reference §8.1): flux-1-schnell and
lucid-origin send JSON ``{"image": <base64>}`` (JPEG in practice), the Stable Diffusion
family raw PNG bytes, phoenix-1.0 raw JPEG, FLUX.2 JSON base64 after a *multipart* request.
:class:`ImageResult` hides that: the bytes, their real type (read from the magic number),
``save``, ``to_pil`` and inline display in Jupyter.

Requests are built per family from the catalog: fields a model does not take are rejected
with its name before anything is sent (flux-1-schnell takes only ``prompt`` and ``steps``),
documented ranges are checked, and input images go where the family wants them
(``image``/``mask`` byte arrays for Stable Diffusion, ``input_image_<n>`` form files for
FLUX.2).

Example:
    >>> image = client.generate_image("a lighthouse at dusk, oil painting")
    >>> image.mime_type, image.size
    ('image/jpeg', (1024, 1024))
    >>> image.save("lighthouse.jpg")
    PosixPath('lighthouse.jpg')

Saving never loses a picture: when the file name asks for another format and the conversion
cannot run (Pillow is not installed), the bytes are saved in their own format next to it
(``lighthouse.png`` → ``lighthouse.jpg``) with an :class:`ImageNotConvertedWarning`.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, create_model

from workersai._media import (
    MediaData,
    Multipart,
    extension_for,
    mime_for_path,
    read_media,
    sniff_mime,
)
from workersai.errors import InvalidInputError, UnexpectedResponseError
from workersai.models import get_model_info, resolve_model
from workersai.pricing import CostEstimate
from workersai.schemas import TextToImageInput, validate_input

__all__ = [
    "DEFAULT_IMAGE_MODEL",
    "ImageFamily",
    "ImageNotConvertedWarning",
    "ImageResult",
    "build_image_request",
    "check_image_params",
    "coerce_image",
    "image_family",
    "image_size",
    "image_tool_schema",
]

DEFAULT_IMAGE_MODEL = "@cf/black-forest-labs/flux-1-schnell"

# FLUX.2 schemas only say "multipart"; these are the form fields of Cloudflare's changelog and
# model pages (CL-FLUX2): up to four reference images as input_image_0..3.
_FLUX2_FIELDS = frozenset({"prompt", "width", "height", "steps", "guidance", "seed"})
_FLUX2_MAX_IMAGES = 4
_PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE})


class ImageNotConvertedWarning(UserWarning):
    """:meth:`ImageResult.save` kept the image in its own format, next to the path asked for.

    The file name asked for another format and the conversion could not run: Pillow is not
    installed, or cannot write that format. Nothing is lost: :attr:`written` holds the image.

    Attributes:
        asked: The path passed to ``save``.
        written: Where the image was saved instead (the returned path).
        reason: Why it was not converted, with what to do (``pip install pillow``).
    """

    def __init__(self, asked: Path, written: Path, reason: str) -> None:
        super().__init__(f"saved {written} instead of {asked}: {reason}")
        self.asked = asked
        self.written = written
        self.reason = reason


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` read from a PNG, JPEG, GIF, WEBP or BMP header, without Pillow."""
    mime = sniff_mime(data)
    if mime == "image/png" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if mime == "image/gif" and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if mime == "image/bmp" and len(data) >= 26:
        height = int.from_bytes(data[22:26], "little", signed=True)
        return int.from_bytes(data[18:22], "little", signed=True), abs(height)
    if mime == "image/webp" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8 ":
            w, h = int.from_bytes(data[26:28], "little"), int.from_bytes(data[28:30], "little")
            return w & 0x3FFF, h & 0x3FFF
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X":
            w, h = int.from_bytes(data[24:27], "little"), int.from_bytes(data[27:30], "little")
            return w + 1, h + 1
    if mime == "image/jpeg":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker in _SOF_MARKERS:
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            return int.from_bytes(data[i + 7 : i + 9], "big"), height
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


@dataclass(frozen=True, slots=True, repr=False)
class ImageResult(MediaData):
    """A generated (or loaded) image: bytes plus their real media type.

    Attributes:
        data: The encoded image (PNG, JPEG, ...).
        mime_type: Read from the bytes (``image/png``, ``image/jpeg``, ``image/webp``).
        model: The model that made it, when known.
        cost: Estimated cost of the request that made it (from the model's published
            price, the image size and the steps), when it came from Workers AI.

    Shows inline in Jupyter (``_repr_png_`` / ``_repr_jpeg_``).

    Example:
        >>> image = ImageResult.from_bytes(Path("cat.png").read_bytes())
        >>> image.size, image.data_uri[:22]
        ((512, 512), 'data:image/png;base64,')
    """

    # A field, not a property: the price depends on the request (steps, input images).
    cost: CostEstimate | None = field(default=None, compare=False)

    @classmethod
    def from_bytes(cls, data: bytes, *, model: str | None = None) -> ImageResult:
        """Wrap encoded image bytes (e.g. a LangChain tool artifact); the type is sniffed.

        Raises:
            InvalidInputError: the bytes are not a known image format.
        """
        mime = sniff_mime(data)
        if mime is None or not mime.startswith("image/"):
            raise InvalidInputError("the bytes are not a PNG, JPEG, WEBP, GIF or BMP image")
        return cls(bytes(data), mime, model)

    @classmethod
    def from_output(cls, output: Any, model: str) -> ImageResult:
        """Parse any text-to-image answer: raw bytes, ``{"image": base64}`` or a base64 string.

        Raises:
            UnexpectedResponseError: no image in the answer.
        """
        data: bytes | None = None
        encoded = output.get("image") if isinstance(output, Mapping) else output
        if isinstance(encoded, (bytes, bytearray)):
            data = bytes(encoded)
        elif isinstance(encoded, str):
            payload = encoded.partition(",")[2] if encoded.startswith("data:") else encoded
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                data = None
        mime = sniff_mime(data) if data else None
        if data is None or mime is None or not mime.startswith("image/"):
            shape = sorted(output) if isinstance(output, Mapping) else type(output).__name__
            raise UnexpectedResponseError(
                f"{model} answered without an image (got {shape})",
                status_code=200,
                model=model,
                body=output if not isinstance(output, bytes) else output[:64],
            )
        return cls(data, mime, model)

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` in pixels, read from the header."""
        return image_size(self.data)

    @property
    def format(self) -> str:
        """Short format name: ``"PNG"``, ``"JPEG"``, ``"WEBP"``..."""
        return self.mime_type.split("/", 1)[1].upper()

    def to_pil(self) -> Any:
        """The image as a ``PIL.Image.Image`` (needs Pillow)."""
        try:
            from PIL import Image
        except ImportError:
            raise ImportError("ImageResult.to_pil() needs Pillow: pip install pillow") from None
        image = Image.open(io.BytesIO(self.data))
        image.load()
        return image

    def convert(self, mime_type: str) -> ImageResult:
        """Re-encode to another format, e.g. ``convert("image/png")`` (needs Pillow)."""
        if mime_type == self.mime_type:
            return self
        pil_format = _PIL_FORMATS.get(mime_type)
        if pil_format is None:
            raise InvalidInputError(f"cannot convert images to {mime_type}")
        image = self.to_pil()
        if pil_format == "JPEG" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")  # JPEG has no alpha channel
        buffer = io.BytesIO()
        image.save(buffer, format=pil_format)
        return ImageResult(buffer.getvalue(), mime_type, self.model, cost=self.cost)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the image; returns the path written.

        Without a suffix the right one is added (``.jpg`` for JPEG). A suffix naming another
        format (``.png`` for JPEG bytes) converts with Pillow, so the file is what it says.
        When that conversion cannot run (no Pillow, or a format Pillow cannot write), the
        image is saved in its own format next to ``path`` (``x.png`` → ``x.jpg``, never over
        an existing file) and an :class:`ImageNotConvertedWarning` says so: a generated
        picture is never lost to a missing optional dependency.
        """
        wanted = mime_for_path(path)
        if wanted is None or not wanted.startswith("image/") or wanted == self.mime_type:
            return self._write(path)
        try:
            converted = self.convert(wanted)
        except ImportError:
            reason = self._not_converted(wanted, "needs Pillow (pip install pillow)")
        except InvalidInputError:
            reason = self._not_converted(wanted, "is not supported")
        except (OSError, ValueError) as exc:  # Pillow cannot decode or encode it
            reason = self._not_converted(wanted, f"failed in Pillow ({exc})")
        else:
            return converted._write(path)
        written = self._write(_free_sibling(Path(path), self.extension))
        warnings.warn(ImageNotConvertedWarning(Path(path), written, reason), stacklevel=2)
        return written

    def _not_converted(self, wanted: str, why: str) -> str:
        return f"converting {self.format} to {wanted.split('/', 1)[1].upper()} {why}"

    def describe(self) -> str:
        """One line for humans and agents: format, size, bytes, model."""
        size = self.size
        dims = f"{size[0]}x{size[1]} " if size else ""
        by = f" by {self.model}" if self.model else ""
        return f"{dims}{self.format} image ({self._size_text()}){by}"

    def __repr__(self) -> str:
        size = self.size
        dims = f", size={size[0]}x{size[1]}" if size else ""
        return (
            f"ImageResult(mime_type={self.mime_type!r}{dims}, bytes={len(self.data)}, "
            f"model={self.model!r})"
        )

    def _repr_png_(self) -> bytes | None:
        return self.data if self.mime_type == "image/png" else None

    def _repr_jpeg_(self) -> bytes | None:
        return self.data if self.mime_type == "image/jpeg" else None

    def _repr_html_(self) -> str | None:
        # Only for formats IPython has no formatter for (WEBP, GIF): an HTML <img> would
        # otherwise outrank the PNG/JPEG representations in Jupyter.
        if self.mime_type in ("image/png", "image/jpeg"):
            return None
        return f'<img src="{self.data_uri}" alt="{html.escape(self.describe())}"/>'


def _free_sibling(path: Path, extension: str) -> Path:
    """``path`` with ``extension``, or ``<stem>-2<extension>``… when that file exists: the
    fallback of a failed conversion must not overwrite a file nobody asked to write."""
    candidate = path.with_suffix(extension)
    number = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{number}{extension}")
        number += 1
    return candidate


def coerce_image(value: Any, what: str = "image") -> bytes:
    """Encoded image bytes from bytes, a path, a data URI, a file object, an
    :class:`ImageResult` or a Pillow image (saved as PNG).

    Raises:
        InvalidInputError: not one of those, or not an image format Workers AI reads.
    """
    if hasattr(value, "save") and hasattr(value, "mode") and hasattr(value, "size"):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return buffer.getvalue()
    data = read_media(value, what)
    mime = sniff_mime(data)
    if mime is None or not mime.startswith("image/"):
        raise InvalidInputError(f"{what} is not a PNG, JPEG, WEBP, GIF or BMP image", field=what)
    return data


# --------------------------------------------------------------------------------------
# Model families
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageFamily:
    """How one text-to-image model takes its input.

    Attributes:
        name: ``"flux-1"``, ``"flux-2"``, ``"stable-diffusion"``, ``"leonardo"`` or
            ``"text-to-image"`` (another known model, or one the catalog does not know).
        multipart: The request is a ``multipart/form-data`` form (FLUX.2).
        accepts: Input fields the model takes; ``None`` when the model is unknown (nothing
            is rejected then).
        max_images: Input images it takes (1 for img2img/inpainting, 4 for FLUX.2).
        needs_image: An input image is required (SD 1.5 img2img and inpainting).
        needs_mask: A mask is required (SD 1.5 inpainting).
    """

    name: str
    multipart: bool = False
    accepts: frozenset[str] | None = None
    max_images: int = 0
    needs_image: bool = False
    needs_mask: bool = False


def image_family(model: str) -> ImageFamily:
    """The family of a text-to-image model, from the catalog (or its name when unknown)."""
    model_id = resolve_model(model)
    info = get_model_info(model_id)
    name = model_id.lower()
    if (info is not None and info.input_format == "multipart") or "flux-2" in name:
        # klein runs a fixed 4 steps; the parameter "cannot be adjusted" (CL-FLUX2).
        fields = _FLUX2_FIELDS - {"steps"} if "klein" in name else _FLUX2_FIELDS
        return ImageFamily("flux-2", multipart=True, accepts=fields, max_images=_FLUX2_MAX_IMAGES)
    if info is None:
        return ImageFamily("flux-1" if "flux-1" in name else "text-to-image", max_images=1)
    accepts = frozenset(info.accepts)
    if "flux-1" in name:
        family = "flux-1"
    elif "mask" in accepts:
        family = "stable-diffusion"
    elif info.author == "leonardo":
        family = "leonardo"
    else:
        family = "text-to-image"
    return ImageFamily(
        family,
        accepts=accepts,
        max_images=1 if "image" in accepts else 0,
        # Their schemas mark only `prompt` required, but these models need their inputs.
        needs_image="img2img" in name or "inpainting" in name,
        needs_mask="inpainting" in name,
    )


def _image_list(value: Any) -> list[bytes]:
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return [coerce_image(item) for item in value]
    return [coerce_image(value)]


def _normalise_steps(model_id: str, family: ImageFamily, params: dict[str, Any]) -> None:
    if "num_steps" in params and "steps" in params:
        raise InvalidInputError(f"pass num_steps or steps to {model_id}, not both", field="steps")
    if family.accepts is None:
        return
    # One vocabulary for callers: Flux names it `steps`, Stable Diffusion `num_steps`.
    for given, other in (("num_steps", "steps"), ("steps", "num_steps")):
        if given in params and given not in family.accepts and other in family.accepts:
            params[other] = params.pop(given)


def check_image_params(model: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check generation parameters (no input images) for ``model``; returns them normalised.

    ``None`` and empty strings are dropped and ``num_steps``/``steps`` renamed to what the
    model calls it. Used before every request, and by the framework classes to reject bad
    defaults at construction.

    Raises:
        InvalidInputError: not a text-to-image model, a field it does not take (naming the
            model), or a value out of its documented range.
    """
    model_id = resolve_model(model)
    info = get_model_info(model_id)
    if info is not None and info.task.lower() != "text-to-image":
        raise InvalidInputError(
            f"{model_id} is a {info.task} model, not Text-to-Image",
            field="model",
            hint=f"Use an image model such as {DEFAULT_IMAGE_MODEL}.",
        )
    family = image_family(model_id)
    fields = {k: v for k, v in params.items() if v is not None and v != ""}
    _normalise_steps(model_id, family, fields)
    if family.accepts is not None:
        unsupported = sorted(set(fields) - family.accepts)
        if unsupported:
            raise InvalidInputError(
                f"{model_id} does not accept {', '.join(unsupported)}; "
                f"it takes {', '.join(sorted(family.accepts | _image_fields(family)))}",
                field=unsupported[0],
            )
    validate_input(model_id, {"prompt": "-", **fields}, schema=TextToImageInput)
    return fields


def build_image_request(model: str, params: Mapping[str, Any]) -> dict[str, Any] | Multipart:
    """The request body for ``model``: a JSON object, or a :class:`~workersai.Multipart` form.

    ``params`` uses the Workers AI field names (``prompt``, ``negative_prompt``, ``width``,
    ``height``, ``num_steps``/``steps``, ``guidance``, ``seed``, ``strength``) plus
    ``image`` (one image, or up to four for FLUX.2) and ``mask``, each as bytes, a path, a
    data URI or a Pillow image. ``None`` and empty strings are dropped.

    Raises:
        InvalidInputError: a field the model does not take (naming the model), a value out
            of its documented range, or a missing input image/mask.
    """
    model_id = resolve_model(model)
    family = image_family(model_id)
    rest = dict(params)
    images = _image_list(rest.pop("image", None))
    mask_value = rest.pop("mask", None)
    if not rest.get("prompt"):
        raise InvalidInputError(f"{model_id} needs a prompt", field="prompt")
    # Checked before the images become (large) byte arrays.
    fields = check_image_params(model_id, rest)
    if images and family.accepts is not None and family.max_images == 0:
        raise InvalidInputError(
            f"{model_id} does not take an input image",
            field="image",
            hint="For image-to-image use @cf/runwayml/stable-diffusion-v1-5-img2img "
            "or a FLUX.2 model.",
        )
    if len(images) > max(family.max_images, 1):
        raise InvalidInputError(
            f"{model_id} takes at most {max(family.max_images, 1)} input image(s), "
            f"got {len(images)}",
            field="image",
        )
    if mask_value is not None and (
        family.multipart or (family.accepts is not None and "mask" not in family.accepts)
    ):
        raise InvalidInputError(f"{model_id} does not take a mask", field="mask")
    if family.needs_image and not images:
        raise InvalidInputError(f"{model_id} needs an input image (image=...)", field="image")
    if family.needs_mask and mask_value is None:
        raise InvalidInputError(
            f"{model_id} needs a mask (mask=...): white where the image should be repainted",
            field="mask",
        )
    if family.multipart:
        form: dict[str, str | bytes | tuple[str, bytes, str]] = {
            k: _form_value(v) for k, v in fields.items()
        }
        for index, data in enumerate(images):
            mime = sniff_mime(data) or "application/octet-stream"
            name = f"input_image_{index}"
            form[name] = (f"{name}{extension_for(mime)}", data, mime)
        return Multipart(form)
    body = dict(fields)
    if images:
        # The documented form for img2img/inpainting: a byte array (list of 0-255 ints).
        body["image"] = list(images[0])
    if mask_value is not None:
        body["mask"] = list(coerce_image(mask_value, "mask"))
    return body


def _image_fields(family: ImageFamily) -> frozenset[str]:
    # FLUX.2 takes images as input_image_<n> form files; callers pass them as `image`.
    return frozenset({"image"}) if family.multipart else frozenset()


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------------------
# Tool schema (for agents)
# --------------------------------------------------------------------------------------

_TOOL_FIELDS: tuple[tuple[str, type, str], ...] = (
    ("negative_prompt", str, "What the image must not contain."),
    ("width", int, "Width in pixels."),
    ("height", int, "Height in pixels."),
    ("num_steps", int, "Diffusion steps: more is slower and more detailed."),
    ("guidance", float, "How closely the image follows the prompt."),
    ("seed", int, "Random seed; the same seed and prompt give the same image."),
)


def image_tool_schema(model: str, name: str = "GenerateImage") -> type[BaseModel]:
    """A pydantic model of the arguments an agent may pass for ``model``: ``prompt`` plus
    only the parameters this model takes, with their documented ranges."""
    model_id = resolve_model(model)
    family = image_family(model_id)
    info = get_model_info(model_id)
    fields: dict[str, Any] = {
        "prompt": (
            str,
            Field(
                min_length=1,
                description="A detailed description of the image: subject, style, "
                "composition, lighting.",
            ),
        )
    }
    for field_name, kind, description in _TOOL_FIELDS:
        wire = field_name
        if family.accepts is not None:
            if wire == "num_steps" and wire not in family.accepts:
                wire = "steps"
            if wire not in family.accepts:
                continue
        spec = info.params.get(wire) if info else None
        if spec is not None:
            description += _range_text(spec.minimum, spec.maximum, spec.default)
        fields[field_name] = (kind | None, Field(default=None, description=description))
    return create_model(name, **fields)


def _range_text(low: float | None, high: float | None, default: float | None) -> str:
    text = ""
    if low is not None and high is not None:
        text = f" From {low:g} to {high:g}."
    elif high is not None:
        text = f" At most {high:g}."
    elif low is not None:
        text = f" At least {low:g}."
    if default is not None:
        text += f" Default {default:g}."
    return text
