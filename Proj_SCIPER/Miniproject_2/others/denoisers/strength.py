"""A photographer's control over how much the denoiser smooths: ``predict(x, strength=s)``.

The deep model is blind: it judges each picture's noise from the picture. ``strength`` moves
the result away from that judgement, around ``s = 1`` (the blind result, ``y``):

- ``s < 1`` keeps part of the noise (a photo's grain): ``x + s (y - x)``, ``s = 0`` the input;
- ``s > 1`` smooths more: the weak coefficients of ``y``'s local cosine transform, where the
  noise the network left lies, are shrunk by a threshold of ``s - 1`` times a multiple of the
  noise level ``x - y`` shows (:mod:`.smoothing`).
"""
from .smoothing import smooth_more

#: The strengths ``predict`` takes.
STRENGTH_RANGE = (0.0, 4.0)


def check_strength(strength, what):
    """``strength`` as a float if it is a number within :data:`STRENGTH_RANGE`; ``ValueError`` otherwise."""
    lo, hi = STRENGTH_RANGE
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not lo <= strength <= hi:
        raise ValueError(f"{what}: strength must be a number in [{lo:g}, {hi:g}], got {strength!r}")
    return float(strength)


def with_strength(predict, noisy, strength, out):
    """``noisy`` denoised at ``strength`` (module docstring) into ``out``, which is returned;
    ``predict(images, out)`` is the blind denoiser (a model's ``predict`` at strength 1)."""
    blind = predict(noisy, None)
    if strength > 1:
        result = smooth_more(noisy, blind, strength)
    else:
        x = noisy.to(blind.device, blind.dtype)
        result = blind.sub(x).mul_(strength).add_(x)
    if not out.is_floating_point():
        result = result.round_().clamp_(0, 255)
    return out.copy_(result)
