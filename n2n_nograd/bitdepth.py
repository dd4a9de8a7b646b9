"""Pictures of more than 8 bits per channel: read at their own range, written back at 16 bits.

Pillow reads a 16-bit colour PNG as 8 bits (it keeps the high byte), so 16-bit PNGs are read
with pypng and TIFFs with tifffile. A 16-bit file often holds fewer significant bits (a raw
converter's 12- or 14-bit data, a scientific camera's 10): the picture is scaled by the range
its file declares (PNG's sBIT chunk, whose samples are scaled up to the full 16 bits) or,
failing that, the smallest of 10, 12, 14 and 16 bits that holds its largest value (samples
stored as they are), so a 12-bit picture reaches the network as bright as it is meant to be,
and goes back into the file the way it came.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import png
import tifffile
import torch
from PIL import Image

#: Formats written at 16 bits per channel.
DEEP_FORMATS = ("PNG", "TIFF")
#: The ranges a 16-bit picture's values may fill, in bits, smallest first.
RANGES = (10, 12, 14, 16)
#: EXIF orientation -> (rotations by 90 degrees counter-clockwise, then a left-right flip),
#: the transform that shows the picture upright.
_ORIENTATIONS = {2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True), 6: (3, False), 7: (3, True),
                 8: (1, False)}


@dataclass
class DeepPicture:
    """A picture of more than 8 bits: ``pixels`` (H, W, C) uint16 (C = 1 grey, 2 grey + alpha,
    3 colour, 4 colour + alpha), upright, on 0 to ``2**bits - 1``; ``declared`` when the file
    said so (PNG's sBIT), its samples then scaled to the full 16 bits."""

    pixels: np.ndarray
    bits: int
    declared: bool = False

    def colour(self) -> torch.Tensor:
        """The colour as a (1, 3, H, W) float tensor on 0-255 (grey repeated)."""
        colour = self.pixels[:, :, :3] if self.pixels.shape[2] >= 3 else self.pixels[:, :, :1].repeat(3, 2)
        scale = 255.0 / (2 ** self.bits - 1)
        return torch.from_numpy(colour.astype(np.float32) * np.float32(scale)).permute(2, 0, 1).unsqueeze(0)

    def alpha(self) -> np.ndarray | None:
        """The alpha plane (H, W) uint16, or None."""
        return self.pixels[:, :, -1] if self.pixels.shape[2] in (2, 4) else None

    def alpha8(self) -> torch.Tensor | None:
        """The alpha plane at 8 bits, (1, 1, H, W) uint8, or None."""
        alpha = self.alpha()
        if alpha is None:
            return None
        scaled = (alpha.astype(np.float64) * (255.0 / (2 ** self.bits - 1))).round().clip(0, 255)
        return torch.from_numpy(scaled.astype(np.uint8))[None, None]


def _png_depth(data: bytes) -> int | None:
    """A PNG's bit depth from its header (None if ``data`` is not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return data[24]


def _significant_bits(pixels: np.ndarray, declared: int | None) -> int:
    if declared:
        return int(declared)
    largest = int(pixels.max()) if pixels.size else 0
    return next(bits for bits in RANGES if largest < 2 ** bits)


def _upright(pixels: np.ndarray, orientation: int | None) -> np.ndarray:
    turns, flip = _ORIENTATIONS.get(orientation, (0, False))
    pixels = np.rot90(pixels, turns)
    return np.ascontiguousarray(pixels[:, ::-1] if flip else pixels)


def read_deep(source) -> DeepPicture | None:
    """The picture in ``source`` (a path or a file object) if it has 16 bits per channel, else
    None (8-bit pictures take Pillow's path). ``ValueError`` for a file that claims 16 bits
    and cannot be decoded."""
    data = source.getvalue() if isinstance(source, io.BytesIO) else Path(source).read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        kind, orientation = img.format, img.getexif().get(0x0112)
    try:
        if kind == "PNG" and _png_depth(data) == 16:
            reader = png.Reader(bytes=data)
            width, height, rows, info = reader.asDirect()
            pixels = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
            pixels = pixels.reshape(height, width, info["planes"])
            # With sBIT, pypng shifts the samples down to the declared depth.
            declared = reader.sbit and max(reader.sbit)
        elif kind == "TIFF":
            pixels = tifffile.imread(io.BytesIO(data))
            if pixels.dtype != np.uint16:
                return None
            pixels, declared = (pixels[:, :, None] if pixels.ndim == 2 else pixels), None
        else:
            return None
    except (png.Error, ValueError, OSError) as exc:
        raise ValueError(f"cannot read it as a 16-bit picture ({exc})") from None
    pixels = _upright(pixels, orientation)
    return DeepPicture(pixels, _significant_bits(pixels, declared), bool(declared))


def to_deep(denoised: torch.Tensor, like: DeepPicture) -> np.ndarray:
    """A denoised (1, 3, H, W) float picture on 0-255 back the way ``like``'s file stores it,
    with its alpha: (H, W, 3 or 4) uint16 (scaled to the full 16 bits if ``like`` declared
    its range)."""
    top = 2 ** like.bits - 1
    colour = (denoised[0].permute(1, 2, 0).double().numpy() * (top / 255.0)).round().clip(0, top)
    alpha = like.alpha()
    pixels = colour if alpha is None else np.concatenate([colour, alpha[:, :, None]], 2)
    if like.declared:
        pixels = (pixels * (65535 / top)).round()
    return pixels.astype(np.uint16)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def encode_png16(pixels: np.ndarray, bits: int = 16, metadata: dict | None = None) -> bytes:
    """A 16-bit PNG of (H, W, 3 or 4) uint16 ``pixels`` (on the full 16 bits when ``bits`` is
    fewer, which sBIT then declares), with the ICC profile (iCCP), EXIF (eXIf) and XMP (iTXt)
    of ``metadata``."""
    height, width, planes = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, 16, 6 if planes == 4 else 2, 0, 0, 0)
    chunks = [_chunk(b"IHDR", header)]
    if bits < 16:
        chunks.append(_chunk(b"sBIT", bytes([bits] * planes)))
    metadata = metadata or {}
    if metadata.get("icc_profile"):
        chunks.append(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(metadata["icc_profile"])))
    if metadata.get("exif"):
        exif = metadata["exif"]
        chunks.append(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    if metadata.get("xmp"):
        # iTXt: keyword, no compression, no language, no translated keyword.
        chunks.append(_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + metadata["xmp"]))
    # Filter type 0 on every row: the rows as they are, big-endian, each after a zero byte.
    rows = np.zeros((height, 1 + width * planes * 2), dtype=np.uint8)
    rows[:, 1:] = pixels.astype(">u2").reshape(height, -1).view(np.uint8)
    chunks.append(_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + _chunk(b"IEND", b"")


def encode_deep(denoised: torch.Tensor, like: DeepPicture, image_format: str,
                metadata: dict | None = None) -> tuple[bytes, list[str]]:
    """The denoised float picture of ``like`` as a 16-bit ``image_format`` file (one of
    :data:`DEEP_FORMATS`), and what the file cannot hold (a TIFF: the EXIF block)."""
    pixels = to_deep(denoised, like)
    if image_format == "PNG":
        return encode_png16(pixels, like.bits if like.declared else 16, metadata), []
    return encode_tiff16(pixels, metadata), ["exif"] if (metadata or {}).get("exif") else []


def encode_tiff16(pixels: np.ndarray, metadata: dict | None = None) -> bytes:
    """A 16-bit TIFF (deflate) of (H, W, 3 or 4) uint16 ``pixels``, with ``metadata``'s ICC
    profile and XMP packet."""
    out = io.BytesIO()
    extra = [(tag, "B", len(value), value, True) for tag, value in
             ((34675, (metadata or {}).get("icc_profile")), (700, (metadata or {}).get("xmp"))) if value]
    tifffile.imwrite(out, pixels, photometric="rgb", compression="zlib",
                     extrasamples=[2] if pixels.shape[2] == 4 else None, extratags=extra)
    return out.getvalue()
