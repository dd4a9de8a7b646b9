"""Winograd F(2x2, 3x3): a stride-1, padding-1 3x3 convolution with 2.25x fewer multiplications.

A prototype for :class:`~.conv2d.Conv2d` (not wired in). im2col multiplies each output
pixel's 9 taps by the weight: ``9 C_in C_out`` products per pixel. Winograd's minimal
filtering computes a 2x2 output tile from its 4x4 input tile as

    Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A

where the 16 entries of the transformed tile each take one ``C_in x C_out`` product:
``16 / 4 = 4 C_in C_out`` products per pixel. The transforms are additions (and halvings
of the weight), so all the multiplying is 16 batched matrix products of
``(N * tiles, C_in) @ (C_in, C_out)``.

Backward is the adjoint of the same factorisation, which shares its transformed upstream
gradient ``A dY Aᵀ`` between the two products: the weight gradient
``Gᵀ (Vᵀ (A dY Aᵀ)) G`` and the input gradient ``B ((A dY Aᵀ) Uᵀ) Bᵀ`` summed back
over the overlapping input tiles. In exact arithmetic these are the convolution's
gradients; in floating point the transforms reorder the sums (float64 agrees with
autograd to ~1e-12).

Tensors are channels-last: input ``(N, H, W, C_in)``, weight ``(C_out, C_in, 3, 3)``.
"""
import math

#: The three transforms as rows of ``(coefficient, tap)``: ``Bᵀ`` (4x4, input tiles),
#: ``G`` (4x3, kernel) and ``Aᵀ`` (2x4, output tiles) of Lavin and Gray (2016).
B_T = (((1, 0), (-1, 2)), ((1, 1), (1, 2)), ((-1, 1), (1, 2)), ((1, 1), (-1, 3)))
G = (((1, 0),), ((0.5, 0), (0.5, 1), (0.5, 2)), ((0.5, 0), (-0.5, 1), (0.5, 2)), ((1, 2),))
A_T = (((1, 0), (1, 1), (1, 2)), ((1, 1), (-1, 2), (-1, 3)))


#: Large temporaries kept between calls by role, as :mod:`.scratch` keeps im2col's: freshly
#: mapped memory costs a page fault per 4 KiB on first touch (as long as a pass over it).
_kept = {}


def _buffer(role, shape, like):
    """An uninitialised tensor of ``shape`` reused by the next call with the same ``role``."""
    numel, key = math.prod(shape), (role, like.dtype, like.device)
    if key not in _kept or _kept[key].numel() < numel:
        _kept[key] = like.new_empty(numel)
    return _kept[key][:numel].view(shape)


def _adjoint(rows, taps):
    """The rows of the transposed map: for each tap, ``(coefficient, row)`` pairs."""
    return tuple(tuple((k, r) for r, row in enumerate(rows) for k, t in row if t == tap)
                 for tap in range(taps))


def _mix(taps, rows, targets):
    """Write ``sum(k * taps[tap] for k, tap in rows[r])`` into ``targets[r]`` for every row.

    Taps and targets are strided views whose innermost axis is the channels, so every
    pass reads and writes whole rows of channels. Coefficients +-1 are additions, and a
    row starts from a term of coefficient 1 where it has one (a copy, with no scaling pass).
    """
    for target, row in zip(targets, rows):
        (k, tap), *rest = sorted(row, key=lambda term: term[0] != 1)
        target.copy_(taps[tap])
        if k != 1:
            target.mul_(k)
        for k, tap in rest:
            target.add_(taps[tap], alpha=k)


def _tiles(h, w):
    """Tiles per column and per row: the output padded up to even sizes."""
    return -(-h // 2), -(-w // 2)


def _padded(x, th, tw):
    """``x`` with the convolution's 1-pixel zero border, grown to ``2 t + 2`` pixels a side."""
    n, h, w, c = x.shape
    out = _buffer("padded", (n, 2 * th + 2, 2 * tw + 2, c), x).zero_()
    out[:, 1:h + 1, 1:w + 1] = x
    return out


def _every_other(t, dim, start, count):
    """``count`` slices of ``t`` along ``dim`` from ``start`` in steps of 2: tap ``start`` of each tile."""
    index = [slice(None)] * t.dim()
    index[dim] = slice(start, start + 2 * count - 1, 2)
    return t[tuple(index)]


def transform_weight(weight):
    """``(C_out, C_in, 3, 3)`` -> ``U = G g Gᵀ`` as 16 ``(C_in, C_out)`` matrices ``(16, C_in, C_out)``,
    indexed ``(b, a)``: b the column frequency, a the row frequency."""
    c_out, c_in = weight.shape[:2]
    g = weight.permute(3, 2, 1, 0)  # (kw, kh, C_in, C_out)
    columns = g.new_empty((4, 3, c_in, c_out))
    _mix(g, G, columns)
    u = g.new_empty((4, 4, c_in, c_out))
    for b in range(4):
        _mix(columns[b], G, u[b])
    return u.view(16, c_in, c_out)


def _transform_input(x, th, tw):
    """``V = Bᵀ d B`` of every 4x4 input tile (stride 2): ``(16, N * th * tw, C)``, indexed ``(b, a)``."""
    n, c = x.shape[0], x.shape[3]
    padded = _padded(x, th, tw)
    columns = _buffer("columns", (4, n, 2 * th + 2, tw, c), x)
    _mix([_every_other(padded, 2, j, tw) for j in range(4)], B_T, columns)
    v = _buffer("v", (4, 4, n, th, tw, c), x)
    for b in range(4):
        _mix([_every_other(columns[b], 1, i, th) for i in range(4)], B_T, v[b])
    return v.view(16, -1, c)


def _transform_output(m, n, th, tw):
    """``Y = Aᵀ M A`` of the ``(16, N * th * tw, C_out)`` products (indexed ``(b, a)``):
    ``(N, 2 th, 2 tw, C_out)``."""
    m = m.view(4, 4, n, th, tw, -1)
    rows = _buffer("rows", (2, 4, n, th, tw, m.shape[-1]), m)
    _mix(m.transpose(0, 1), A_T, rows)  # over a: (i, b, ...)
    y = m.new_empty((n, th, 2, tw, 2, m.shape[-1]))
    for i in range(2):
        _mix(rows[i], A_T, y[:, :, i].movedim(3, 0))  # over b, into output column j
    return y.view(n, 2 * th, 2 * tw, -1)


def conv3x3_forward(x, weight, bias=None):
    """``F.conv2d(x, weight, bias, padding=1)`` on channels-last ``x``: ``(N, H, W, C_out)``.

    Shape:
        - x: :math:`(N, H, W, C_{in})`; weight: :math:`(C_{out}, C_{in}, 3, 3)`; bias: :math:`(C_{out})`.
        - Output: :math:`(N, H, W, C_{out})`, contiguous.
    """
    n, h, w, _ = x.shape
    th, tw = _tiles(h, w)
    v = _transform_input(x, th, tw)
    m = _buffer("m", (16, v.shape[1], weight.shape[0]), x).baddbmm_(v, transform_weight(weight), beta=0)
    y = _transform_output(m, n, th, tw)[:, :h, :w]
    return y.contiguous() if bias is None else y + bias


def conv3x3_backward(x, weight, grad_y):
    """Gradients of :func:`conv3x3_forward`: ``(grad_x, grad_weight, grad_bias)``.

    The input's transform ``V`` is recomputed rather than kept from forward: it is four
    times the input's size.

    Shape:
        - x: :math:`(N, H, W, C_{in})`; grad_y: :math:`(N, H, W, C_{out})`.
        - grad_x like x; grad_weight like weight; grad_bias :math:`(C_{out})`.
    """
    n, h, w, c_in = x.shape
    c_out = weight.shape[0]
    th, tw = _tiles(h, w)
    # Adjoint of the output transform: A dY Aᵀ, with the tiles past the border getting zeros.
    grad = _buffer("grad", (n, 2 * th, 2 * tw, c_out), grad_y).zero_()
    grad[:, :h, :w] = grad_y
    tiles = grad.view(n, th, 2, tw, 2, c_out)
    columns = _buffer("grad columns", (4, n, th, 2, tw, c_out), grad)
    _mix(tiles.movedim(4, 0), _adjoint(A_T, 4), columns)  # output column j -> b
    grad_m = _buffer("m", (4, 4, n, th, tw, c_out), grad)
    for b in range(4):
        _mix(columns[b].movedim(2, 0), _adjoint(A_T, 4), grad_m[b])  # output row i -> a
    grad_m = grad_m.view(16, -1, c_out)
    grad_u = (_transform_input(x, th, tw).transpose(1, 2) @ grad_m).view(4, 4, c_in, c_out)
    rows = grad_u.new_empty((3, 4, c_in, c_out))
    _mix(grad_u.transpose(0, 1), _adjoint(G, 3), rows)  # a -> kernel row
    grad_g = grad_u.new_empty((3, 3, c_in, c_out))
    for kh in range(3):
        _mix(rows[kh], _adjoint(G, 3), grad_g[kh])  # b -> kernel column
    grad_weight = grad_g.permute(3, 2, 0, 1).contiguous()
    grad_v = _buffer("grad v", (16, grad_m.shape[1], c_in), grad).baddbmm_(
        grad_m, transform_weight(weight).transpose(1, 2), beta=0).view(4, 4, n, th, tw, c_in)
    # Adjoint of the input transform: B dV Bᵀ, each tile's 16 taps added onto the padded
    # input (the 4x4 tiles overlap by 2 pixels, so tap by tap onto strided slices).
    taps = _buffer("v", (4, 4, n, th, tw, c_in), grad)
    _mix(grad_v.transpose(0, 1), _adjoint(B_T, 4), taps)  # a -> tile row i: (i, b, ...)
    padded = x.new_empty((n, 2 * th + 2, 2 * tw + 2, c_in)).zero_()
    for i in range(4):
        row = _every_other(padded, 1, i, th)
        for j, column in enumerate(_adjoint(B_T, 4)):
            target = _every_other(row, 2, j, tw)
            for k, b in column:
                target.add_(taps[i, b], alpha=k)
    return padded[:, 1:h + 1, 1:w + 1], grad_weight, grad_y.sum((0, 1, 2))
