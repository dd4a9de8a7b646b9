"""Self-ensemble: a denoiser averaged over the flips and rotations of its input.

Pictures have no preferred orientation, but a trained network is not exactly equivariant
to the square's eight symmetries: each orientation of the input gives a slightly different
estimate of the clean picture, with partly independent errors. Running the network on
the input flipped or rotated, undoing the flip or rotation on each output and averaging
them removes part of those errors, at the price of one network pass per orientation.
"""
from ..plumbing.images import dihedral, undo_dihedral
from .tiles import store

#: How many of the eight symmetries may be averaged: the first 1, 2 (a flip), 4 (the
#: flips) or all 8 (with the transposition).
ENSEMBLES = (1, 2, 4, 8)


def check_ensemble(ensemble, what):
    """``ensemble`` if it is one of :data:`ENSEMBLES`; ``ValueError`` naming it otherwise."""
    if not isinstance(ensemble, int) or isinstance(ensemble, bool) or ensemble not in ENSEMBLES:
        raise ValueError(f"{what}: ensemble must be one of {ENSEMBLES}, got {ensemble!r}")
    return ensemble


def dihedral_mean(predict, images, out, ensemble, dtype):
    """``out[...] =`` the mean over the first ``ensemble`` symmetries ``k`` (see
    :func:`..plumbing.images.dihedral`) of ``undo_dihedral(predict(dihedral(images, k)), k)``;
    returns ``out``.

    ``predict(images, into)`` writes its result for ``(N, 3, H, W)`` pictures into ``into``
    and returns it; it must take any H and W (a transposition swaps them). Each
    orientation is one whole ``predict`` (tiles included), so the mean is that of single
    passes over the turned pictures. With ``ensemble`` 1 this is ``predict(images, out)``;
    otherwise the orientations' results are summed in ``dtype`` (two pictures' worth of
    memory besides ``out``) and stored into ``out`` (rounded if it is an integer tensor).
    """
    if ensemble == 1:
        return predict(images, out)
    total = None
    for k in range(ensemble):
        turned = dihedral(images, k)
        result = undo_dihedral(predict(turned, out.new_empty(turned.shape, dtype=dtype)), k)
        total = result if total is None else total.add_(result)
    store(out, total.div_(ensemble))
    return out
