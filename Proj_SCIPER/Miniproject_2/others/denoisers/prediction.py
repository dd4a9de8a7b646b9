"""The network passes of ``Model.predict``: pieces of bounded size, orientations averaged,
progress shown."""
from .ensemble import dihedral_mean
from ..plumbing.progress import Progress
from .tiles import predict_in_pieces

#: Progress-bar labels: the pass over the pictures, then the blend's pass over the lightly
#: noisy ones (see :mod:`.shrinkage`).
LABELS = ("denoising", "second pass (lightly noisy pictures)")


def passes(run, context, pixels, grid, ensemble, dtype, progress):
    """``denoise(images, into)``, the function through which ``Model.predict`` and
    :func:`.shrinkage.shrink_to_input` run the network: ``run`` over ``images`` in pieces of
    about ``pixels`` pixels (:func:`.tiles.predict_in_pieces`, with ``context`` and
    ``grid``), averaged over ``ensemble`` orientations (:func:`.ensemble.dihedral_mean`,
    summed in ``dtype``), written into ``into``.

    Each call draws a progress bar in megapixels through the network (``progress``: as
    :class:`..plumbing.progress.Progress`'s ``enabled``), labelled by :data:`LABELS` in call order.
    """
    calls = 0

    def denoise(images, into):
        nonlocal calls
        calls += 1
        n, _, h, w = images.shape
        bar = Progress(ensemble * n * h * w, LABELS[min(calls, len(LABELS)) - 1], enabled=progress,
                       unit="MP", per=10 ** 6)

        def counted(piece):
            result = run(piece)
            bar.update(piece.shape[0] * piece.shape[2] * piece.shape[3])
            return result

        def in_pieces(pictures, out):
            return predict_in_pieces(counted, pictures, out, context, pixels, grid)

        try:
            return dihedral_mean(in_pieces, images, into, ensemble, dtype)
        finally:
            bar.close()

    return denoise
