"""Running a trained model on pictures: validation batches and whole photos."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, PngImagePlugin

from Miniproject_2.others.plumbing.checkpoint import write_atomic

from .crops import open_rgb
from .psnr import psnr

# The grader predicts the validation set 100 pictures at a time.
GRADER_BATCH = 100


def predict_batches(model, noisy: torch.Tensor, batch: int = GRADER_BATCH, ensemble: int = 1,
                    strength: float | str = 1.0) -> torch.Tensor:
    """``model.predict`` over a (N, 3, H, W) set, a batch at a time; floats in [0, 255].
    ``ensemble`` (orientations averaged) and ``strength``: ``Model.predict``'s arguments."""
    with torch.no_grad():
        return torch.cat([model.predict(noisy[start:start + batch], ensemble=ensemble, strength=strength)
                          for start in range(0, len(noisy), batch)])


def validation_psnr(model, noisy: torch.Tensor, clean: torch.Tensor, ensemble: int = 1) -> float:
    """The grader's PSNR of ``model`` on a 0-255 validation set, predicted as the grader does
    (with ``ensemble`` orientations averaged, which the grader does not)."""
    return psnr(predict_batches(model, noisy, ensemble=ensemble) / 255, clean.float() / 255)


#: Below this estimated noise level the required-shape model, trained on sigma 10-40,
#: removes more detail than noise (README, Quality: the per-sigma tables).
LIGHT_NOISE = 10.0

# Immerkaer's noise estimator: this 3x3 mask cancels locally planar image content and
# leaves 36 sigma^2 of variance from white noise.
_MASK = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


#: Output rows of the noise estimate's mask per band.
ESTIMATE_ROWS = 256


def estimate_sigma(picture: torch.Tensor) -> float:
    """Noise sigma (0-255 scale) of a (1, 3, H, W) picture, from its fine texture.

    Textured pictures read a little high: it is an estimate for a warning, not a measurement.
    """
    planes = picture.reshape(-1, 1, *picture.shape[2:])
    h, w = planes.shape[2:]
    if min(h, w) < 3:
        return 0.0
    # In bands of rows (each overlapping the next by the mask's two extra rows), so that a
    # large photo never has a float copy made whole.
    total = 0.0
    for top in range(0, h - 2, ESTIMATE_ROWS):
        band = planes[:, :, top:min(top + ESTIMATE_ROWS, h - 2) + 2].float()
        total += F.conv2d(band, _MASK.view(1, 1, 3, 3)).abs().sum(dtype=torch.float64).item()
    response = total / (planes.shape[0] * (h - 2) * (w - 2))
    return math.sqrt(math.pi / 2) * response / 6


def read_picture(path) -> torch.Tensor:
    """Any PNG/JPEG as a (1, 3, H, W) uint8 tensor (converted to RGB); ``ValueError`` naming
    the file if it cannot be read (decompression bombs included)."""
    try:
        rgb = np.array(open_rgb(path))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path}: cannot read it as a picture ({exc})") from None
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)


#: Orientation's EXIF tag: reset to 1 (as stored) once the rotation is applied to the pixels.
ORIENTATION = 0x0112
#: JPEG output's quality unless one is asked for.
JPEG_QUALITY = 95
#: Formats refused as output, and why.
REFUSED = {"GIF": "GIF holds 256 colours and would posterise the picture: use .png"}
#: Formats whose files carry an EXIF block and an ICC profile through Pillow.
KEEPS_METADATA = ("JPEG", "PNG", "WEBP", "TIFF")
#: PNG's text key of an XMP packet (JPEG and WebP carry it as Pillow's ``xmp``).
XMP_KEY = "XML:com.adobe.xmp"
#: Formats whose files hold an alpha channel.
KEEPS_ALPHA = ("PNG", "WEBP", "TIFF")


def read_alpha(path) -> torch.Tensor | None:
    """The alpha channel of a picture (rotated as :func:`read_picture` rotates the colour),
    a (1, 1, H, W) uint8 tensor; None for a picture without transparency."""
    with Image.open(path) as img:
        if "A" not in img.getbands() and "transparency" not in img.info:
            return None
        alpha = ImageOps.exif_transpose(img).convert("RGBA").getchannel("A")
    return torch.from_numpy(np.array(alpha)).view(1, 1, alpha.height, alpha.width)


def read_metadata(path) -> dict:
    """What a picture file carries besides its pixels: the ICC colour profile, the EXIF block
    (camera, date, exposure...), with the orientation set to 1 because ``read_picture``
    applies the rotation, and the XMP packet (as bytes). Empty if the file has none."""
    with Image.open(path) as img:
        kept = {}
        if img.info.get("icc_profile"):
            kept["icc_profile"] = img.info["icc_profile"]
        xmp = img.info.get("xmp") or img.info.get(XMP_KEY)
        if xmp:
            kept["xmp"] = xmp.encode() if isinstance(xmp, str) else bytes(xmp)
        exif = img.getexif()
        if len(exif):
            if ORIENTATION in exif:
                exif[ORIENTATION] = 1
            kept["exif"] = exif.tobytes()
        return kept


def encode_picture(picture: torch.Tensor, image_format: str, metadata: dict | None = None,
                   quality: int | None = None, alpha: torch.Tensor | None = None) -> tuple[bytes, list[str]]:
    """A (1, 3, H, W) uint8 picture as the bytes of an ``image_format`` file (Pillow's name).
    ``metadata`` (from :func:`read_metadata`) and ``alpha`` (from :func:`read_alpha`) go
    in where the format holds them. JPEG is written at ``quality`` (default
    :data:`JPEG_QUALITY`) with full-resolution colour (4:4:4); WebP losslessly unless a
    ``quality`` is given. Returns the bytes and the names of what the format cannot hold."""
    kept = image_format in KEEPS_METADATA
    options = dict(metadata or {}) if kept else {}
    xmp = options.pop("xmp", None)
    if xmp and image_format == "PNG":
        options["pnginfo"] = PngImagePlugin.PngInfo()
        options["pnginfo"].add_itxt(XMP_KEY, xmp.decode("utf-8", "replace"))
    elif xmp and image_format == "TIFF":
        options["tiffinfo"] = {700: xmp}
    elif xmp:
        options["xmp"] = xmp
    if image_format == "JPEG":
        options.update(quality=quality or JPEG_QUALITY, subsampling=0)
    elif image_format == "WEBP" and quality:
        options.update(quality=quality)
    elif image_format == "WEBP":
        options.update(lossless=True)
    pixels = picture[0]
    dropped = [] if kept else sorted(metadata or {})
    if alpha is not None and image_format in KEEPS_ALPHA:
        pixels = torch.cat([pixels, alpha[0]])
    elif alpha is not None:
        dropped.append("alpha")
    encoded = io.BytesIO()
    Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy()).save(encoded, image_format, **options)
    return encoded.getvalue(), dropped


def write_picture(picture: torch.Tensor, path, metadata: dict | None = None,
                  quality: int | None = None, alpha: torch.Tensor | None = None) -> list[str]:
    """:func:`encode_picture` into the file ``path``, whose suffix picks the format. The file
    is encoded in memory and renamed into place (``write_atomic``): an interrupted write
    leaves the old file, or none, never a broken one. Returns what the format cannot hold."""
    encoded, dropped = encode_picture(picture, picture_format(path), metadata, quality, alpha)
    write_atomic(encoded, path)
    return dropped


def check_output(source, output, overwrite: bool) -> None:
    """``ValueError`` naming the problem if ``output`` cannot take a denoised ``source``:
    an unknown format, a folder that does not exist or is not writable, or the input itself
    without ``overwrite``. Checked before any work is done."""
    output = check_format(output)
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"{output}: its folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{output}: its folder {folder} is not writable")
    if output.exists() and Path(source).exists() and os.path.samefile(source, output) and not overwrite:
        raise ValueError(f"{output} is the input: add --overwrite to replace it (atomically), "
                         "or choose another name")


def check_format(output) -> Path:
    """``output`` as a Path if its suffix names a format pictures may be written in, else
    ``ValueError`` saying why."""
    output = Path(output)
    if not can_write(output):
        raise ValueError(f"{output}: unknown picture format; use a .png or .jpg name")
    refused = REFUSED.get(picture_format(output))
    if refused:
        raise ValueError(f"{output}: {refused}")
    return output


def picture_format(path) -> str | None:
    """Pillow's format for this file name's suffix (``"JPEG"``, ``"PNG"``...), or None."""
    return Image.registered_extensions().get(Path(path).suffix.lower())


def can_write(path) -> bool:
    """Whether PIL knows a format for this file name's suffix."""
    return picture_format(path) is not None
