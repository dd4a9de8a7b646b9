"""A camera's noise, for training the denoiser on the noise that photos really carry.

A photo's noise is made in the sensor's raw data, then shaped by the camera's processing:
demosaicing spreads it over neighbouring pixels and across channels, the colour matrix mixes
the channels, the transfer curve makes it depend on brightness, JPEG removes part of it and
blocks the rest. This module un-processes an sRGB picture into the raw data a camera would
have recorded, adds a sensor's noise there and processes it back:

    sRGB  -> linear RGB          inverse sRGB transfer curve
          -> camera RGB          inverse colour matrix (a random mix of real cameras')
          -> raw                 inverse white-balance and brightness gains
          -> Bayer mosaic        one colour a pixel, the 2x2 pattern's phase random
          + noise                N(0, shot * raw + read): shot (photon) and read noise
          -> camera RGB          bilinear demosaicing, white balance and brightness gains
          -> sRGB                colour matrix, clipping to [0, 1], sRGB transfer curve
          -> the camera's look   for most pictures, noise reduction and sharpening
          -> picture             rounding to 0-255; for some pictures a JPEG round trip

The look is what cameras do to a picture after the transfer curve: they smooth the noise,
the colour differences' much more than the luma's, and sharpen the luma, which lifts the
noise's middle frequencies; both leave the noise blotchy, spread over several pixels, as it
is in camera JPEGs. A camera's noise reduction follows edges, so it smooths the noise and
leaves the picture's own edges: here it is idealised as a blur of the noise alone
(:func:`noise_reduction`); the sharpening acts on the whole picture (:func:`sharpen`). Both
are linear, so the targets below stay unbiased through them.

The two noise levels are drawn jointly, as measured on real sensors: log shot uniform over
:data:`SHOT_RANGE`, log read a line in log shot plus scatter (:func:`draw_cameras`).

Targets
-------
Noise2Noise learns the mean of its targets. Through the whole pipeline a noisy target's mean
is not the clean picture's: the clipping and the transfer curve bend, so
``E[f(c + n)] != f(c)`` (:func:`target_bias` measures it). The targets here are the
pipeline's first-order expansion instead: ``S(f(c) + R f'(c) L n)``, where ``L`` is the
linear part (demosaicing, gains, colour matrix), ``f`` the clipping and transfer curve, ``R``
the noise reduction, ``S`` the sharpening, and ``n`` a second raw noise draw, independent of
the input's. Their mean is ``S f(c)`` exactly, their noise is correlated across pixels and
channels as the input's is; they are neither rounded nor compressed, so JPEG never reaches a
target.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image

#: Linear RGB (sRGB primaries, D65) to CIE XYZ.
RGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375),
              (0.2126729, 0.7151522, 0.0721750),
              (0.0193339, 0.1191920, 0.9503041))
#: XYZ to camera RGB of four real cameras (the colour matrices their raw converters use);
#: each picture gets a random convex mix of them.
XYZ_TO_CAMERA = (
    ((1.0234, -0.2969, -0.2266), (-0.5625, 1.6328, -0.0469), (-0.0703, 0.2188, 0.6406)),
    ((0.4913, -0.0541, -0.0202), (-0.6130, 1.3513, 0.2906), (-0.1564, 0.2151, 0.7183)),
    ((0.8380, -0.2630, -0.0639), (-0.2887, 1.0725, 0.2496), (-0.0627, 0.1427, 0.5438)),
    ((0.6596, -0.2079, -0.0562), (-0.4782, 1.3016, 0.1933), (-0.0970, 0.1581, 0.5181)),
)
#: White-balance gains of red and blue against green, and the brightness gain's mean and spread.
RED_GAIN, BLUE_GAIN, BRIGHTNESS = (1.9, 2.4), (1.5, 1.9), (0.8, 0.1)
#: Shot noise (variance per unit of raw signal) on [0, 1] raw values: drawn log-uniformly.
SHOT_RANGE = (1e-4, 1.2e-2)
#: log(read variance) = READ_SLOPE * log(shot) + READ_OFFSET + N(0, READ_SCATTER).
READ_SLOPE, READ_OFFSET, READ_SCATTER = 2.18, 1.20, 0.26
#: The look: the share of cameras that apply it, the ranges of their noise reduction's blur
#: sigmas (pixels) on the colour differences and on the luma, of their sharpening's amount,
#: and the unsharp mask's sigma.
LOOK_SHARE, CHROMA_BLUR, LUMA_BLUR, SHARPEN, SHARPEN_SIGMA = 0.7, (1.0, 4.0), (0.0, 1.0), (0.0, 1.0), 1.0
#: sRGB to luma and two colour differences (BT.601, without the offsets: the look is linear).
RGB_TO_YCC = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
#: Pixels of each Bayer colour, by the pixel's (row, column) parity: RGGB at phase (0, 0).
_BAYER = {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 2}
#: Bilinear demosaicing: green from its four neighbours, red and blue from two or four.
_GREEN_KERNEL = ((0, .25, 0), (.25, 1, .25), (0, .25, 0))
_RED_BLUE_KERNEL = ((.25, .5, .25), (.5, 1, .5), (.25, .5, .25))
#: The values a training target may take (Model.train's bounds for unclipped targets).
TARGET_RANGE = (-255, 510)
#: Luma weights (ITU-R BT.601) of a grey picture.
LUMA = (0.299, 0.587, 0.114)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """The inverse sRGB transfer curve, on [0, 1]."""
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).clamp(min=0) ** 2.4)


def linear_to_srgb(y: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer curve, on [0, 1]."""
    return torch.where(y <= 0.0031308, 12.92 * y, 1.055 * y.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def linear_to_srgb_slope(y: torch.Tensor) -> torch.Tensor:
    """The derivative of :func:`linear_to_srgb`."""
    return torch.where(y <= 0.0031308, torch.full_like(y, 12.92),
                       1.055 / 2.4 * y.clamp(min=0.0031308) ** (1 / 2.4 - 1))


@dataclass
class Cameras:
    """One simulated camera per picture: its colour matrix, gains, noise levels and Bayer phase.

    Shape:
        camera_to_rgb: (N, 3, 3); gains: (N, 3) (white balance times brightness, applied to
        raw); shot, read: (N,) (raw variance ``shot * raw + read`` on [0, 1]); phase: (N, 2),
        the row and column parity of the mosaic's red pixel; chroma_blur, luma_blur, sharpen:
        (N,), the look's (zero: none).
    """

    camera_to_rgb: torch.Tensor
    gains: torch.Tensor
    shot: torch.Tensor
    read: torch.Tensor
    phase: torch.Tensor
    chroma_blur: torch.Tensor
    luma_blur: torch.Tensor
    sharpen: torch.Tensor

    def __len__(self) -> int:
        return len(self.gains)

    def __getitem__(self, index) -> "Cameras":
        return Cameras(self.camera_to_rgb[index], self.gains[index], self.shot[index],
                       self.read[index], self.phase[index], self.chroma_blur[index], self.luma_blur[index],
                       self.sharpen[index])


def draw_cameras(n: int, generator: torch.Generator, shot_range=SHOT_RANGE) -> Cameras:
    """``n`` random cameras (see :class:`Cameras`), in float64."""
    def uniform(size, lo, hi):
        return torch.rand(size, generator=generator, dtype=torch.float64) * (hi - lo) + lo

    mix = uniform((n, len(XYZ_TO_CAMERA)), 1e-8, 1)
    mix /= mix.sum(1, keepdim=True)
    xyz_to_camera = torch.einsum("nk,kij->nij", mix, torch.tensor(XYZ_TO_CAMERA, dtype=torch.float64))
    rgb_to_camera = xyz_to_camera @ torch.tensor(RGB_TO_XYZ, dtype=torch.float64)
    # Each row sums to one, so that white stays white before white balance.
    rgb_to_camera /= rgb_to_camera.sum(2, keepdim=True)
    brightness = 1 / (torch.randn(n, generator=generator, dtype=torch.float64) * BRIGHTNESS[1]
                      + BRIGHTNESS[0]).clamp(min=0.5)
    gains = torch.stack([uniform(n, *RED_GAIN), torch.ones(n, dtype=torch.float64),
                         uniform(n, *BLUE_GAIN)], 1) * brightness[:, None]
    log_shot = uniform(n, math.log(shot_range[0]), math.log(shot_range[1]))
    log_read = (READ_SLOPE * log_shot + READ_OFFSET
                + torch.randn(n, generator=generator, dtype=torch.float64) * READ_SCATTER)
    phase = torch.randint(0, 2, (n, 2), generator=generator)
    has_look = (torch.rand(n, generator=generator) < LOOK_SHARE).double()
    chroma_blur, luma_blur, sharpen = (uniform(n, *bounds) * has_look for bounds in (CHROMA_BLUR, LUMA_BLUR, SHARPEN))
    return Cameras(torch.linalg.inv(rgb_to_camera), gains, log_shot.exp(), log_read.exp(), phase,
                   chroma_blur, luma_blur, sharpen)


def _colour(matrix: torch.Tensor, pictures: torch.Tensor) -> torch.Tensor:
    return torch.einsum("nij,njhw->nihw", matrix, pictures)


def unprocess(srgb: torch.Tensor, cameras: Cameras) -> torch.Tensor:
    """The raw camera RGB (before the mosaic) of sRGB pictures on [0, 1]; exact inverse of
    :func:`process` on three-channel raw (no clipping on the way)."""
    linear = srgb_to_linear(srgb.double())
    camera = _colour(torch.linalg.inv(cameras.camera_to_rgb), linear)
    return camera / cameras.gains[:, :, None, None]


def bayer_mask(cameras: Cameras, height: int, width: int) -> torch.Tensor:
    """(N, 3, H, W): 1 where a pixel of the mosaic records that colour."""
    rows = (torch.arange(height)[:, None] + cameras.phase[:, 0, None, None]) % 2
    cols = (torch.arange(width)[None, :] + cameras.phase[:, 1, None, None]) % 2
    colour = torch.empty_like(rows.expand(-1, height, width))
    for (r, c), channel in _BAYER.items():
        colour[(rows == r) & (cols == c)] = channel
    return (colour[:, None] == torch.arange(3)[None, :, None, None]).double()


def demosaic(mosaic: torch.Tensor) -> torch.Tensor:
    """Bilinear demosaicing of a masked mosaic (N, 3, H, W) (zeros where a colour is not
    recorded); reflection at the borders keeps the Bayer pattern's parity."""
    kernels = torch.tensor((_RED_BLUE_KERNEL, _GREEN_KERNEL, _RED_BLUE_KERNEL), dtype=mosaic.dtype)
    padded = F.pad(mosaic, (1, 1, 1, 1), mode="reflect")
    return F.conv2d(padded, kernels[:, None], groups=3)


def process_linear(raw: torch.Tensor, cameras: Cameras) -> torch.Tensor:
    """The linear part of processing: gains and colour matrix of raw camera RGB (N, 3, H, W)."""
    return _colour(cameras.camera_to_rgb, raw * cameras.gains[:, :, None, None])


def finish(linear: torch.Tensor) -> torch.Tensor:
    """The nonlinear end of processing: clipping and the transfer curve, to 0-255."""
    return linear_to_srgb(linear.clamp(0, 1)) * 255


def finish_slope(linear: torch.Tensor) -> torch.Tensor:
    """The derivative of :func:`finish` (zero where the clipping holds the value)."""
    inside = (linear > 0) & (linear < 1)
    return linear_to_srgb_slope(linear.clamp(0, 1)) * 255 * inside


def process(raw: torch.Tensor, cameras: Cameras) -> torch.Tensor:
    """Raw camera RGB (N, 3, H, W) to sRGB on 0-255, unrounded."""
    return finish(process_linear(raw, cameras))


def gaussian_blur(planes: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Each picture's planes (N, K, H, W) blurred by a Gaussian of its own ``sigmas`` (N,) in
    pixels (0: unchanged), separably; borders replicated."""
    n, k, h, w = planes.shape
    radius = max(1, math.ceil(3 * float(sigmas.max())))
    offsets = torch.arange(-radius, radius + 1, dtype=planes.dtype)
    sigma = sigmas.to(planes.dtype).clamp(min=1e-3)[:, None]
    taps = (-(offsets[None] ** 2) / (2 * sigma ** 2)).exp()
    taps = (taps / taps.sum(1, keepdim=True)).repeat_interleave(k, 0)
    x = planes.reshape(1, n * k, h, w)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), taps.view(n * k, 1, 1, -1), groups=n * k)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), taps.view(n * k, 1, -1, 1), groups=n * k)
    return x.view(n, k, h, w)


def _in_ycc(srgb: torch.Tensor, change) -> torch.Tensor:
    """``change`` applied to the luma and colour differences (N, 3, H, W) of ``srgb``."""
    to_ycc = torch.tensor(RGB_TO_YCC, dtype=srgb.dtype)
    ycc = change(torch.einsum("ij,njhw->nihw", to_ycc, srgb))
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(to_ycc), ycc)


def noise_reduction(noise: torch.Tensor, cameras: Cameras) -> torch.Tensor:
    """The camera's noise reduction of the noise (N, 3, H, W) of sRGB pictures, a linear map:
    its colour differences blurred by ``chroma_blur``, its luma by ``luma_blur``."""
    return _in_ycc(noise, lambda ycc: torch.cat([gaussian_blur(ycc[:, :1], cameras.luma_blur),
                                                 gaussian_blur(ycc[:, 1:], cameras.chroma_blur)], 1))


def sharpen(srgb: torch.Tensor, cameras: Cameras) -> torch.Tensor:
    """The camera's sharpening of sRGB pictures (N, 3, H, W), a linear map: the luma's unsharp
    mask ``y + sharpen * (y - blur(y))`` of :data:`SHARPEN_SIGMA`."""
    def mask(ycc):
        luma = ycc[:, :1]
        soft = gaussian_blur(luma, torch.full_like(cameras.sharpen, SHARPEN_SIGMA))
        return torch.cat([luma + cameras.sharpen.to(ycc.dtype)[:, None, None, None] * (luma - soft), ycc[:, 1:]], 1)
    return _in_ycc(srgb, mask)


def raw_noise(raw: torch.Tensor, cameras: Cameras, generator: torch.Generator) -> torch.Tensor:
    """A draw of the sensor's noise for ``raw``: N(0, shot * raw + read) at each value."""
    variance = (raw.clamp(min=0) * cameras.shot[:, None, None, None] + cameras.read[:, None, None, None])
    return torch.randn(raw.shape, generator=generator, dtype=raw.dtype) * variance.sqrt()


@dataclass
class CameraPair:
    """A picture through the camera pipeline: two noise draws and the noiseless result.

    ``noisy`` has the full pipeline (clipped before the look, unrounded, 0-255); ``target``
    is the first-order target of the module docstring; ``clean`` the pipeline without noise."""

    noisy: torch.Tensor
    target: torch.Tensor
    clean: torch.Tensor


def camera_pair(clean: torch.Tensor, cameras: Cameras, generator: torch.Generator) -> CameraPair:
    """Two independent camera-noise draws of uint8 (or 0-255) pictures ``clean``."""
    raw = unprocess(clean.double() / 255, cameras)
    mask = bayer_mask(cameras, *clean.shape[2:])
    mosaic = raw * mask
    linear_clean = process_linear(demosaic(mosaic), cameras)
    first, second = (process_linear(demosaic(raw_noise(raw, cameras, generator) * mask), cameras)
                     for _ in range(2))
    noiseless = finish(linear_clean)
    noise = finish(linear_clean + first) - noiseless
    # The transfer curve's toe (slope 12.92) makes the first-order noise of the darkest
    # pixels wide at high levels; Model.train takes targets within TARGET_RANGE, and the
    # rare values cut there are counted in target_bias.
    target_noise = finish_slope(linear_clean) * second
    return CameraPair(noisy=sharpen(noiseless + noise_reduction(noise, cameras), cameras),
                      target=sharpen(noiseless + noise_reduction(target_noise, cameras), cameras).clamp_(*TARGET_RANGE),
                      clean=sharpen(noiseless, cameras))


#: Brightness bands (of the noiseless pipeline's value, 0-255) over which target_bias is also taken;
#: the first and the last are open-ended (sharpening can push a value past 0 or 255).
BRIGHTNESS_BANDS = ((0, 16), (16, 64), (64, 128), (128, 192), (192, 240), (240, 256))


def target_bias(clean: torch.Tensor, cameras: Cameras, generator: torch.Generator,
                draws: int = 8) -> dict:
    """Mean signed error (0-255 levels) of targets against the noiseless pipeline, over
    ``draws`` draws: the full pipeline's (clipped; and rounded) and the first-order ones,
    over every value and (``"by_brightness"``) per band of :data:`BRIGHTNESS_BANDS`."""
    sums = {key: torch.zeros(len(BRIGHTNESS_BANDS) + 1, dtype=torch.float64)
            for key in ("full", "full_rounded", "first_order")}
    counts = torch.zeros(len(BRIGHTNESS_BANDS) + 1, dtype=torch.float64)
    edges = [-math.inf, *(high for _, high in BRIGHTNESS_BANDS[:-1]), math.inf]
    for _ in range(draws):
        pair = camera_pair(clean, cameras, generator)
        errors = {"full": pair.noisy - pair.clean, "full_rounded": pair.noisy.round() - pair.clean,
                  "first_order": pair.target - pair.clean}
        masks = [torch.ones_like(pair.clean, dtype=torch.bool)] + [
            (pair.clean >= low) & (pair.clean < high) for low, high in zip(edges, edges[1:])]
        for i, mask in enumerate(masks):
            counts[i] += mask.sum()
            for key, error in errors.items():
                sums[key][i] += error[mask].sum()
    means = {key: (total / counts.clamp(min=1)).tolist() for key, total in sums.items()}
    result = {key: values[0] for key, values in means.items()}
    result["by_brightness"] = [{"band": list(band), "share": float(counts[i + 1] / counts[0]),
                                **{key: values[i + 1] for key, values in means.items()}}
                               for i, band in enumerate(BRIGHTNESS_BANDS)]
    return result


def grey(clean: torch.Tensor) -> torch.Tensor:
    """Grey versions (luma in all three channels, float 0-255) of (N, 3, H, W) pictures."""
    weights = torch.tensor(LUMA, dtype=torch.float64).view(1, 3, 1, 1)
    return (clean.double() * weights).sum(1, keepdim=True).expand(-1, 3, -1, -1)


def jpeg(pictures: torch.Tensor, quality: int, subsampling: int) -> torch.Tensor:
    """A JPEG round trip of uint8 pictures (N, 3, H, W) through Pillow; ``subsampling`` is
    Pillow's: 0 for 4:4:4, 1 for 4:2:2, 2 for 4:2:0."""
    out = torch.empty_like(pictures)
    for i, picture in enumerate(pictures):
        buffer = io.BytesIO()
        Image.fromarray(picture.permute(1, 2, 0).numpy()).save(
            buffer, "JPEG", quality=quality, subsampling=subsampling)
        buffer.seek(0)
        decoded = torch.frombuffer(bytearray(Image.open(buffer).convert("RGB").tobytes()), dtype=torch.uint8)
        out[i] = decoded.view(picture.shape[1], picture.shape[2], 3).permute(2, 0, 1)
    return out


#: Each training picture's noise in the "mixture": its kind, by share.
MIXTURE = {"gaussian": 0.45, "camera": 0.4, "grey": 0.15}
#: Share of each kind's pictures saved as JPEG (most photos out of a camera are), their
#: quality range, and the share of those at 4:2:0.
JPEG_SHARE = {"gaussian": 0.3, "camera": 0.6, "grey": 0.3}
JPEG_QUALITY, JPEG_420_SHARE = (70, 98), 0.7
#: The training noises: "mixture-lossless" is the mixture without JPEG (for the ablation).
NOISE_KINDS = ("gaussian", "camera", "mixture", "mixture-lossless")


#: The largest softening blur sigma (pixels) that CameraSettings take.
MAX_SOFTEN = 5.0


@dataclass(frozen=True)
class CameraSettings:
    """What ``n2n data --shot-range/--soften`` change in the camera pictures of a mixture
    (``build.json`` keeps them as ``camera``).

    ``shot_range``: the range of the shot noise (:data:`SHOT_RANGE`; the read noise follows
    it). ``soften``: a range of Gaussian blur sigmas (pixels), one drawn a picture, that
    soften a clean camera picture before the camera sees it, or None. Photos made small for a
    screen, as the training photos are, hold several times the finest detail that a camera's
    full-resolution picture holds (the luma's detail finer than a blur of one pixel against
    that finer than four, ``benchmarks/fine_detail.py``); a network that learnt such detail
    keeps a camera's fine noise as if it were detail.
    """

    shot_range: tuple = SHOT_RANGE
    soften: tuple | None = None

    def __post_init__(self):
        lo, hi = (float(v) for v in self.shot_range)
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"--shot-range must satisfy 0 < LO <= HI <= 1, got {lo:g} {hi:g}")
        object.__setattr__(self, "shot_range", (lo, hi))
        if self.soften is not None:
            lo, hi = (float(v) for v in self.soften)
            if not 0 <= lo <= hi <= MAX_SOFTEN:
                raise ValueError(f"--soften must satisfy 0 <= LO <= HI <= {MAX_SOFTEN:g} (pixels), got {lo:g} {hi:g}")
            object.__setattr__(self, "soften", (lo, hi))

    def describe(self) -> str:
        lo, hi = self.shot_range
        soften = f", softened by a blur of {self.soften[0]:g}-{self.soften[1]:g} px" if self.soften else ""
        return f"camera shot noise {lo:g}-{hi:g}{soften}"

    @classmethod
    def from_json(cls, record: dict | None) -> "CameraSettings":
        """The settings ``build.json`` recorded; the defaults for a folder built before they existed."""
        return cls(**record) if record else cls()


def mixture_pairs(clean: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator,
                  unclipped_targets: bool = True, noise: str = "mixture",
                  settings: CameraSettings = CameraSettings(),
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noise2Noise pairs of uint8 pictures under ``noise``: "mixture" mixes camera, Gaussian
    and grey noise (:data:`MIXTURE`), "camera" is camera noise alone; either way a share
    of the inputs goes through JPEG (:data:`JPEG_SHARE`, by kind), but for
    "mixture-lossless", the mixture without JPEG.

    ``sigma`` (N,) is the Gaussian level of the Gaussian and grey pictures; ``settings``
    the camera pictures' (:class:`CameraSettings`). Returns the uint8 input (clipped,
    rounded, JPEG'd for a share), the float target (unclipped where ``unclipped_targets``)
    and the noiseless reference (float 0-255: the camera pipeline's own for camera pictures,
    softened if asked, the grey picture for grey ones).
    """
    n = len(clean)
    choice = torch.rand(n, generator=generator)
    bounds = torch.tensor(list(MIXTURE.values())).cumsum(0)
    mixed = noise.startswith("mixture")
    kind = torch.bucketize(choice, bounds[:-1], right=True) if mixed else torch.ones(n, dtype=torch.long)
    reference = clean.double().clone()
    noisy = torch.empty(clean.shape, dtype=torch.float64)
    target = torch.empty(clean.shape, dtype=torch.float64)

    gaussian = kind == 0
    for index, base in ((gaussian, clean.double()), (kind == 2, None)):
        count = int(index.sum())
        if not count:
            continue
        picture = base[index] if base is not None else grey(clean[index])
        level = sigma[index].double().view(-1, 1, 1, 1)
        channels = 3 if base is not None else 1
        shape = (count, channels, *clean.shape[2:])
        a, b = (torch.randn(shape, generator=generator, dtype=torch.float64).expand(-1, 3, -1, -1)
                for _ in range(2))
        reference[index] = picture
        noisy[index] = picture + level * a
        target[index] = picture + level * b
    camera = kind == 1
    if camera.any():
        count, picture = int(camera.sum()), clean[camera]
        if settings.soften is not None:
            lo, hi = settings.soften
            picture = gaussian_blur(picture.double(), torch.rand(count, generator=generator, dtype=torch.float64)
                                    * (hi - lo) + lo)
        pair = camera_pair(picture, draw_cameras(count, generator, settings.shot_range), generator)
        noisy[camera], target[camera], reference[camera] = pair.noisy, pair.target, pair.clean
    if not unclipped_targets:
        target.clamp_(0, 255).round_()
    noisy = noisy.round_().clamp_(0, 255).to(torch.uint8)

    # JPEG choices come from the same generator, so a pair depends only on the seed.
    shares = torch.tensor([JPEG_SHARE[name] for name in MIXTURE])
    compress = (torch.rand(n, generator=generator) < shares[kind]) & (noise != "mixture-lossless")
    qualities = torch.randint(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, (n,), generator=generator)
    subsampled = torch.rand(n, generator=generator) < JPEG_420_SHARE
    for i in compress.nonzero().flatten().tolist():
        noisy[i:i + 1] = jpeg(noisy[i:i + 1], int(qualities[i]), 2 if subsampled[i] else 0)
    return noisy, target.float(), reference.float()

