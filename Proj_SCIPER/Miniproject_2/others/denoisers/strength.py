"""A photographer's control over how much the denoiser smooths: ``predict(x, strength=s)``.

The deep model is blind: it judges each picture's noise from the picture. ``strength`` moves
the result away from that judgement, around ``s = 1`` (the blind result, ``y``):

- ``s < 1`` keeps part of the noise (a photo's grain): ``x + s (y - x)``, ``s = 0`` the input;
- ``s > 1`` smooths more, in two stages, as BM3D does but with the network's result to start
  from: the weak coefficients of ``y``'s local cosine transform, where the noise the network
  left lies, are shrunk by a threshold of ``s - 1`` times :data:`.smoothing.SCALE` times the
  noise level ``x - y`` shows (:mod:`.smoothing`); that smoothed picture is then the pilot
  of a collaborative Wiener filter of the noisy input (:mod:`.collaborative`), at ``s - 1``
  times :data:`WIENER` times that level, which puts back detail that similar blocks of the
  picture agree on and takes off noise they do not. Below ``s = 2`` the result goes only
  ``s - 1`` of the way from the first stage's picture to the filter's: at a level of a few
  times the noise's the filter keeps much of the noisy picture's own coefficients (on PolyU,
  alone at strength 1.25 it gained 0.05 dB less than the blind result).

``strength="auto"`` chooses per picture: :data:`CAMERA_STRENGTH` where the noise looks like a
camera's, light and coarse (the residual ``x - y`` on the flattest pixels correlated with its
right neighbour's by :data:`CAMERA_LIKE` or more, its level below :data:`~.shrinkage.GATE`),
1 elsewhere. A blind network trained on synthetic camera noise leaves much of a real photo's
coarse noise (on PolyU strength 1.5 gained 0.37 dB more than 1, 2 0.55), while on heavy or white noise,
which the network removes better than the filter can, strengths above 1 lose. White noise in
a lossless file leaves a residual nearly uncorrelated between neighbours (median below 0.2
over unseen pictures at every sigma from 3 up; PolyU's lowest is 0.69). Light noise saved as
a JPEG, and pictures without noise, often pass for a camera's (what the network takes from
them is correlated too): they are then smoothed more (docs/real-noise.md says how much). Of
those pictures, one whose colour looks like a camera JPEG's, with next to no fine colour grain
where it is flat (:func:`~.shrinkage.level_and_colour_grain`'s grain below :data:`JPEG_COLOUR` times the noise
level), has its colour differences smoothed :data:`CAMERA_COLOUR` times as hard as its luma in
both stages: such a photo's colour noise is coarse blotches, which the network leaves nearly whole.
"""
import torch

from .collaborative import collaborative_wiener
from .shrinkage import GATE, level_and_colour_grain, level_and_correlation, noise_level
from .smoothing import SCALE, shrink_coefficients

#: The collaborative filter's level per unit of strength above 1, in units of the measured noise
#: level: a camera's noise is correlated from pixel to pixel, so its blocks' coefficients vary
#: far more than the level of a pixel says (on PolyU, 13 to 20 times it at strength 2.5 did within
#: 0.05 dB of each other).
WIENER = 10.0
#: The strengths ``predict`` takes (and ``"auto"``).
STRENGTH_RANGE = (0.0, 4.0)
#: The strength ``"auto"`` gives a picture whose noise looks like a camera's. On PolyU 2 is best
#: (chosen on either half of the set, on the other; +2.71 dB, 1.5 +2.53), but pictures without
#: noise that pass for a camera's lose up to 5.8 dB at 2 and gain on average at 1.5 (its filter
#: keeps more of the input): 1.5 makes none of PolyU's worse either.
CAMERA_STRENGTH = 1.5
#: Correlation of neighbouring residuals from which ``"auto"`` takes the noise for a camera's
#: (above the blend's :data:`~.shrinkage.CORRELATED`, below PolyU's lowest, 0.69).
CAMERA_LIKE = 0.6
#: Fine colour grain, relative to the noise level, below which ``"auto"`` takes a camera-like
#: picture's colour for a camera JPEG's: PolyU's pictures lie at 0.03-0.3 (96 of 100 below
#: 0.2), the unseen pictures without noise that pass for a camera's at 0.25 and more in a lossless
#: file (none below), 0.08 and more as a JPEG (7-29% of them below).
JPEG_COLOUR = 0.2
#: The colour differences' threshold and ``sigma``, relative to the luma's, in both stages for
#: a picture whose colour looks like a camera JPEG's (the stages' own are 0.6 and 1): on PolyU at
#: strength 1.5, 6 in both gained 0.25 dB over the stages' own, 3 0.19 and 10 0.23, but pictures
#: without noise that pass for a camera's lose 1 dB at 6 on average (up to 6.4).
CAMERA_COLOUR = 6.0


def check_strength(strength, what):
    """``strength`` as a float if it is a number within :data:`STRENGTH_RANGE`, or ``"auto"``;
    ``ValueError`` otherwise."""
    if strength == "auto":
        return strength
    lo, hi = STRENGTH_RANGE
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not lo <= strength <= hi:
        raise ValueError(f"{what}: strength must be a number in [{lo:g}, {hi:g}] or 'auto', got {strength!r}")
    return float(strength)


def jpeg_colour(noisy, blind):
    """Per picture (bool, :math:`(N,)`), whether the colour of ``noisy`` looks like a camera
    JPEG's (module docstring), from its blind result ``blind`` (both :math:`(N, 3, H, W)`, 0-255)."""
    h, w = blind.shape[2:]
    if h < 3 or w < 3:
        return blind.new_zeros(blind.shape[0], dtype=torch.bool)
    level, grain = level_and_colour_grain(noisy, blind)
    return grain < level.mul_(JPEG_COLOUR)


def auto_strengths(noisy, blind):
    """Per picture (:math:`(N,)`), the strength ``"auto"`` gives it (module docstring), from the
    blind result ``blind`` of ``noisy`` (both :math:`(N, 3, H, W)`, 0-255). Pictures of fewer
    than 3 pixels a side show no level: 1."""
    h, w = blind.shape[2:]
    if h < 3 or w < 3:
        return blind.new_ones(blind.shape[0])
    level, neighbours = level_and_correlation(noisy, blind)
    camera = (neighbours >= CAMERA_LIKE) & (level < GATE)
    return camera.float().mul_(CAMERA_STRENGTH - 1).add_(1)


def with_strength(predict, noisy, strength, out):
    """``noisy`` denoised at ``strength`` (module docstring) into ``out``, which is returned;
    ``predict(images, out)`` is the blind denoiser (a model's ``predict`` at strength 1)."""
    return apply_strength(noisy, predict(noisy, None), strength, out)


def apply_strength(noisy, blind, strength, out):
    """``blind``, the blind result of ``noisy`` (floats, 0-255; changed), taken to ``strength``
    (module docstring) into ``out``, which is returned (rounded if it is an integer tensor)."""
    if strength == 1:
        result = blind
    elif strength == "auto":
        result = blind
        camera = auto_strengths(noisy, blind).gt(1).nonzero().flatten()
        if len(camera):
            coarse = jpeg_colour(noisy[camera], blind[camera])
            for chosen, colour in ((camera[~coarse], None), (camera[coarse], CAMERA_COLOUR)):
                if len(chosen):
                    result[chosen] = smooth_more(noisy[chosen], blind[chosen], CAMERA_STRENGTH, colour)
    elif strength > 1:
        result = smooth_more(noisy, blind, strength)
    else:
        x = noisy.to(blind.device, blind.dtype)
        result = blind.sub(x).mul_(strength).add_(x)
    if not out.is_floating_point():
        result = result.round_().clamp_(0, 255)
    return out.copy_(result)


def smooth_more(noisy, blind, strength, colour=None):
    """The blind result ``blind`` of ``noisy`` smoothed for ``strength`` above 1 (module
    docstring), each picture at its own noise level as ``noisy - blind`` shows it, the colour
    differences ``colour`` times as hard as the luma in both stages (``None``: each stage's own
    ratio). Pictures of fewer than 3 pixels a side show no level and come back as they are.

    Shape:
        - noisy, blind: :math:`(N, 3, H, W)`, 0-255 (``blind`` floats on ``noisy``'s device;
          ``noisy`` any dtype: it is read a strip at a time, so no float copy is made)
        - Output: :math:`(N, 3, H, W)`, floats in [0, 255]
    """
    h, w = blind.shape[2:]
    if h < 3 or w < 3:
        return blind.clone()
    levels = noise_level(noisy, blind)
    ratio = {} if colour is None else {"colour": colour}
    pilot = shrink_coefficients(blind, levels.mul(SCALE * (strength - 1)), **ratio)
    filtered = collaborative_wiener(noisy, pilot, levels.mul_(WIENER * (strength - 1)), **ratio)
    share = min(1.0, strength - 1)
    return filtered if share == 1 else pilot.lerp_(filtered, share)
