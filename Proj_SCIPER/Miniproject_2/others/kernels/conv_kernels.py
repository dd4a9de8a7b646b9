"""Convolution kernels: convolution and transposed convolution, forward and backward.

The layers (:class:`Conv2d`, :class:`TransposeConv2d`, :class:`Upsampling`) are thin
wrappers over these functions, as torch's layers are over ``torch.nn.functional``.
Forward returns the result and a :class:`ConvCache` (what backward needs); backward takes
the upstream gradient and that cache.

Every convolution is one matrix product, in one of two orders (``algorithm``):

- ``"im2col"``: copy every window of the input into a row of a matrix (im2col, see
  :mod:`.im2col`), then multiply it by the ``(kh*kw*C_in, C_out)`` weight matrix, block
  of rows by block (:data:`BLOCK_BYTES`). A convolution's own order;
- ``"multiply_first"``: multiply every input pixel by the ``(C_in, kh*kw*C_out)`` weight
  matrix, then sum the products into the windows they belong to (col2im). A transposed
  convolution's own order.

A stride-1 convolution over a window is the transposed convolution over its
:meth:`~.im2col.Window.adjoint` with the taps reversed, and the other way round, so
at stride 1 either layer runs in either order; with a larger stride only its own order
exists. Forward and backward may take different orders: ``algorithm`` is ``"auto"``,
one order for both passes, or a ``(forward, backward)`` pair. ``"auto"`` decides once,
in forward, and the cache records the decision.

Inputs and outputs are channels-last inside (see :mod:`.layout`).

``compute``, a dtype or ``None``, is the dtype of the products (see :mod:`.precision`):
with bfloat16, each product's operands are rounded to it and each block's result, summed
in float32 by the matrix kernel, is rounded to it once; everything else (the bias, the sums
of blocks and of col2im, the output) stays in the weight's dtype.

``then``, a function or ``None``, is applied in place to the output as it is made: to each
block of rows of the im2col order while the block is still in cache, to the whole output in
the other orders. An activation that follows the convolution runs this way
(``Sequential`` arranges it), which saves a pass over memory and an output-sized allocation.
"""
import collections
import math

from torch.nn.functional import unfold

from .layout import is_channels_last, nchw, nhwc
from .scratch import scratch

#: The product orders, each usable for either pass.
ALGORITHMS = ("im2col", "multiply_first")


class ConvCache(collections.namedtuple("ConvCache", "x matrix window transposed algorithm has_bias compute")):
    """What forward keeps for backward.

    ``x`` is the input as forward got it, NCHW-shaped (a contiguous input's channels-last
    copy is made only if backward runs); ``matrix`` the weight in the layer's own order's
    layout; ``window`` the convolution's (for a transposed convolution, the one it is the
    adjoint of); ``algorithm`` the ``(forward, backward)`` orders decided in forward;
    ``compute`` the products' dtype (``None``: the input's).
    """

    __slots__ = ()


# -- weight layouts: each conversion next to its inverse --------------------------------------

def weight_to_matrix(weight, transposed):
    """torch's weight -> the matrix of the layer's own order: Conv2d's
    ``(C_out, C_in, kh, kw)`` -> ``(kh*kw*C_in, C_out)`` (rows in im2col's column order),
    TransposeConv2d's ``(C_in, C_out, kh, kw)`` -> ``(C_in, kh*kw*C_out)``."""
    if transposed:
        return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)
    return weight.permute(2, 3, 1, 0).reshape(-1, weight.shape[0])


def weight_from_matrix(matrix, kernel, transposed):
    """Inverse of :func:`weight_to_matrix` for a ``kernel`` of ``(kh, kw)`` taps (a view)."""
    kh, kw = kernel
    if transposed:
        return matrix.view(matrix.shape[0], kh, kw, -1).permute(0, 3, 1, 2)
    return matrix.view(kh, kw, -1, matrix.shape[1]).permute(3, 2, 0, 1)


def _im2col_to_multiply_first(matrix, kernel):
    """``(kh*kw*C_in, C_out)`` -> ``(C_in, kh*kw*C_out)`` with the taps reversed: the same
    convolution, run over the adjoint window."""
    kh, kw = kernel
    c_out = matrix.shape[1]
    return matrix.view(kh, kw, -1, c_out).flip(0, 1).permute(2, 0, 1, 3).reshape(-1, kh * kw * c_out)


def _multiply_first_to_im2col(matrix, kernel):
    """Inverse of :func:`_im2col_to_multiply_first`."""
    kh, kw = kernel
    c_in = matrix.shape[0]
    return matrix.view(c_in, kh, kw, -1).flip(1, 2).permute(1, 2, 0, 3).reshape(kh * kw * c_in, -1)


#: Converts a weight matrix into the layout of the order named by the key.
_TO_ORDER = {"im2col": _multiply_first_to_im2col, "multiply_first": _im2col_to_multiply_first}


# -- the two orders, each with its backward ------------------------------------------------------

#: Bytes of im2col matrix per block on a CPU. A convolution's im2col matrix is several
#: times its input (tens to hundreds of MB for a training batch); made whole, it is
#: written to memory and read back by the product. In blocks of a few MB it stays in
#: cache between the two: a 3x3 convolution's forward pass went from 80-107 to 113-146
#: GFLOP/s on this project's CPU (README "Speed"); of 0.5 to 8 MB, 2 and 4 MB gave the
#: fastest U-Net training step.
BLOCK_BYTES = 4 << 20


def _block_numbers(x, compute):
    """Numbers per im2col block of ``x`` in ``compute``: cache-sized on a CPU; on a GPU one
    block, so that each pass stays one product."""
    if x.device.type != "cpu":
        return None
    return BLOCK_BYTES // (x.element_size() if compute is None else compute.itemsize)


def _lowered(tensor, compute):
    """``tensor`` in the products' dtype (itself when ``compute`` is ``None`` or its own)."""
    return tensor if compute is None else tensor.to(compute)


def _im2col_forward(window, matrix, x, bias, compute=None, then=None):
    """Convolution of ``(N, H, W, C_in)`` ``x`` over ``window``: im2col, then a product, block
    by block, ``then`` applied to each. Returns the contiguous ``(N, oh, ow, C_out)`` output,
    in ``matrix``'s dtype."""
    c_out = matrix.shape[1]
    out = matrix.new_empty((x.shape[0] * window.out_size[0] * window.out_size[1], c_out))
    low = _lowered(matrix, compute)
    for positions, cols in window.im2col_blocks(x, _block_numbers(x, compute), compute):
        block = out[positions]
        if compute is not None:
            block.copy_(cols @ low)
            if bias is not None:
                block.add_(bias)
        elif bias is None:
            # beta=0: the fresh memory's contents are ignored, NaN included.
            block.addmm_(cols, matrix, beta=0)
        else:
            # The bias starts the accumulation, as in torch's addmm.
            block.copy_(bias.expand(cols.shape[0], c_out)).addmm_(cols, matrix)
        if then is not None:
            then(block)
    return out.view(x.shape[0], *window.out_size, c_out)


def _im2col_backward(window, matrix, x, grad, compute=None):
    """Gradients of :func:`_im2col_forward` for an ``(N, oh, ow, C_out)`` upstream gradient:
    ``(grad_matrix, grad_x)``.

    The im2col matrix is rebuilt block by block rather than kept from forward: whole, it
    is several times the input's size, and keeping every layer's until backward would
    multiply peak memory for one copy's worth of time.
    """
    grad = _lowered(grad, compute)
    grad_rows = grad.view(-1, matrix.shape[1])
    grad_matrix = matrix.new_zeros(matrix.shape)
    for positions, cols in window.im2col_blocks(x, _block_numbers(x, compute), compute):
        if compute is None:
            grad_matrix.addmm_(cols.t(), grad_rows[positions])
        else:
            # This order of the transposes ran 1.5x faster in bfloat16 (README "Mixed precision").
            grad_matrix.add_((grad_rows[positions].t() @ cols).t())
    # The input gradient is the transposed convolution of the upstream one: col2im(G Wᵀ).
    return grad_matrix, _multiply_first_forward(window, matrix.t(), grad, None, compute)


def _multiply_first_forward(window, matrix, x, bias, compute=None):
    """Transposed convolution of ``(N, oh, ow, C_in)`` ``x`` (one pixel per window position
    of ``window``): each pixel times every tap, then col2im sums the windows. Returns
    ``(N, H, W, C_out)`` on ``window``'s input grid in ``matrix``'s dtype, possibly a view
    of a fresh buffer."""
    n, c_in = x.shape[0], x.shape[3]
    c_out = matrix.shape[1] // (window.kernel[0] * window.kernel[1])
    x = _lowered(x, compute)
    with scratch((math.prod(x.shape[:3]), matrix.shape[1]), x) as products:
        # beta=0: the scratch's old contents are ignored, NaN included.
        products.addmm_(x.view(-1, c_in), _lowered(matrix, compute), beta=0)
        out = window.col2im(products, n, c_out, matrix.dtype)
    return out if bias is None else out + bias


def _multiply_first_backward(window, matrix, x, grad, compute=None):
    """Gradients of :func:`_multiply_first_forward` for an ``(N, H, W, C_out)`` upstream
    gradient: im2col of it, then two products, block by block (both products read the same
    block). Returns ``(grad_matrix, grad_x)``."""
    n, c_in = x.shape[0], x.shape[3]
    x_rows = _lowered(x, compute).view(-1, c_in)
    grad_matrix = matrix.new_zeros(matrix.shape)
    grad_x = matrix.new_empty(x_rows.shape)
    matrix_t = _lowered(matrix, compute).t()
    for positions, cols in window.im2col_blocks(grad, _block_numbers(grad, compute), compute):
        if compute is None:
            grad_matrix.addmm_(x_rows[positions].t(), cols)
            grad_x[positions].addmm_(cols, matrix_t, beta=0)
        else:
            grad_matrix.add_(x_rows[positions].t() @ cols)
            grad_x[positions].copy_(cols @ matrix_t)
    return grad_matrix, grad_x.view(n, *window.out_size, c_in)


_BACKWARD = {"im2col": _im2col_backward, "multiply_first": _multiply_first_backward}


# -- choosing the order ------------------------------------------------------------------------------

def _own_order(transposed):
    return "multiply_first" if transposed else "im2col"


def _multiplies_first(window, c_in, c_out, backward):
    """Whether a convolution over ``window`` should multiply first in forward (or in
    ``backward``), for ``"auto"``.

    Both orders do the same multiplications; they differ in what reaches memory. The
    im2col matrix is built in cache-sized blocks (:data:`BLOCK_BYTES`), so it never does;
    multiplying first materialises the ``in_positions x taps x C_out`` products that
    col2im sums (and skips the positions an upsampling phase pads with). So forward runs
    im2col unless ``C_out`` is under a quarter of ``C_in``: a product a few columns wide
    runs far below the CPU's speed, and the im2col copy is then many times the products
    (the last layer's 3 colours). In backward the im2col order materialises the input
    gradient's products (``out_positions x taps x C_in``), while multiplying first feeds
    both products from one im2col block of the upstream gradient, so it multiplies first
    unless ``C_out`` is over four times ``C_in`` (the first layer's 3 colours). Measured
    on the U-Net's layers (README "Speed"). Multiplying first needs stride 1: with a
    larger stride the gradient would be a zero-inserted image.
    """
    (h, w), (oh, ow) = window.in_size, window.out_size
    products, im2col = h * w * c_out, oh * ow * c_in
    return window.stride == (1, 1) and (products < 4 * im2col if backward else 4 * products < im2col)


def _orders(algorithm, window, matrix, transposed, reference):
    """``(forward, backward)`` orders for ``algorithm``, checked. ``reference``: the input
    can take :func:`_reference_conv2d`, which ``"auto"`` then keeps for forward."""
    if algorithm == "auto":
        if transposed:
            # A transposed convolution's own order materialises no more than the other.
            return ("multiply_first", "multiply_first")
        c_in, c_out = matrix.shape[0] // (window.kernel[0] * window.kernel[1]), matrix.shape[1]
        forward, backward = ("multiply_first" if _multiplies_first(window, c_in, c_out, backward) else "im2col"
                             for backward in (False, True))
        return ("im2col" if reference else forward, backward)
    orders = ((algorithm, algorithm) if isinstance(algorithm, str)
              else tuple(algorithm) if isinstance(algorithm, (tuple, list)) else ())
    if len(orders) != 2 or not all(isinstance(o, str) and o in ALGORITHMS for o in orders):
        raise ValueError(f"algorithm must be 'auto', one of {ALGORITHMS} or a (forward, backward) pair "
                         f"of them, got {algorithm!r}")
    if window.stride != (1, 1) and set(orders) != {_own_order(transposed)}:
        raise ValueError(f"algorithm {algorithm!r} needs stride 1 (the other order would read a "
                         f"zero-inserted image), got stride {window.stride}")
    return orders


def _operands(window, matrix, transposed, order):
    """``(window, matrix)`` that compute the layer's convolution in ``order``."""
    if order == _own_order(transposed):
        return window, matrix
    return window.adjoint(), _TO_ORDER[order](matrix, window.kernel)


def _cache(x, matrix, bias, window, transposed, algorithm, compute, reference=False):
    """The cache of a forward pass, with the orders decided for both passes."""
    orders = _orders(algorithm, window, matrix, transposed, reference)
    return ConvCache(x, matrix, window, transposed, orders, bias is not None, compute)


def _forward(cache, bias, then=None):
    """The channels-last output of the forward pass ``cache`` describes, in its forward order,
    with ``then`` applied."""
    order = cache.algorithm[0]
    window, matrix = _operands(cache.window, cache.matrix, cache.transposed, order)
    if order == "im2col":
        return _im2col_forward(window, matrix, nhwc(cache.x), bias, cache.compute, then)
    out = _multiply_first_forward(window, matrix, nhwc(cache.x), bias, cache.compute)
    if then is not None:
        then(out)
    return out


# -- channels-last kernels --------------------------------------------------------------------------

def convolution_nhwc(x, matrix, bias, window, transposed=False, algorithm="auto", compute=None):
    """Convolution (or, if ``transposed``, transposed convolution) with a channels-last result.

    Args:
        x: the NCHW-shaped input (any memory layout).
        matrix: the weight in the layer's own order's layout (see :func:`weight_to_matrix`).
        bias: ``(C_out)`` or ``None``.
        window: the convolution's :class:`~.im2col.Window`; for a transposed convolution,
            the convolution it is the adjoint of (it slides over the output).
        algorithm, compute: see the module's documentation.

    Shape:
        - x: :math:`(N, C_{in}, H, W)` on ``window``'s input grid (its output grid if transposed)
        - Output: :math:`(N, H_{out}, W_{out}, C_{out})` on the other grid (possibly a
          view that crops a fresh buffer).

    Returns ``(output, cache)``; the output never shares memory with scratch.
    """
    cache = _cache(x, matrix, bias, window, transposed, algorithm, compute)
    return _forward(cache, bias), cache


def convolution_nhwc_backward(grad, cache):
    """Gradients of :func:`convolution_nhwc` for a contiguous channels-last upstream ``grad``,
    in the backward order recorded in ``cache``.

    Returns ``(grad_x, grad_matrix, grad_bias)``: ``grad_x`` channels-last
    :math:`(N, H, W, C_{in})`, ``grad_matrix`` in ``cache.matrix``'s layout, ``grad_bias``
    ``None`` without a bias.
    """
    order, own = cache.algorithm[1], _own_order(cache.transposed)
    window, matrix = _operands(cache.window, cache.matrix, cache.transposed, order)
    grad_matrix, grad_x = _BACKWARD[order](window, matrix, nhwc(cache.x), grad, cache.compute)
    if order != own:
        grad_matrix = _TO_ORDER[own](grad_matrix, window.kernel)
    grad_bias = grad.view(-1, grad.shape[3]).sum(0) if cache.has_bias else None
    return grad_x, grad_matrix, grad_bias


# -- with torch's layouts --------------------------------------------------------------------------

def _reference_conv2d(x, weight, bias, window):
    """torch's im2col reference convolution of an NCHW input: ``bias + W @ unfold(x)``.

    The bias starts the accumulation, as in torch's reference, so rounding matches it and
    results are bit-identical to ``F.conv2d`` wherever torch itself takes that path.
    ``window``'s padding must be the same on both sides.
    """
    n, o = x.shape[0], weight.shape[0]
    top, _, left, _ = window.padding
    cols = unfold(x, window.kernel, window.dilation, (top, left), window.stride)
    weight = weight.reshape(1, o, -1).expand(n, -1, -1)
    if bias is None:
        out = weight @ cols
    else:
        out = bias.view(1, o, 1).expand(n, o, cols.shape[2]).baddbmm(weight, cols)
    return out.view(n, o, *window.out_size)


def convolution(x, weight, bias, window, transposed=False, algorithm="auto", compute=None, then=None):
    """:func:`convolution_nhwc` with torch's layouts: ``weight`` as the layer holds it, the
    output NCHW-shaped (a view of a channels-last tensor, except from the reference below),
    ``then`` applied to it (see the module's documentation).

    A convolution of an input that is not channels-last runs :func:`_reference_conv2d`
    in the im2col order (always with ``"auto"``, in the input's own dtype), so it is
    bit-identical to torch's reference; a channels-last input takes one large matrix product.
    """
    reference = compute is None and not transposed and not (is_channels_last(x) and not x.is_contiguous())
    cache = _cache(x, weight_to_matrix(weight, transposed), bias, window, transposed, algorithm, compute,
                   reference)
    if reference and cache.algorithm[0] == "im2col":
        out = _reference_conv2d(x, weight, bias, window)
        if then is not None:
            then(out)
        return out, cache
    # Contiguous, so the next layer reads it without a copy (col2im's may be a cropped view).
    return nchw(_forward(cache, bias, then).contiguous()), cache


def convolution_backward(grad_output, cache):
    """Gradients of :func:`convolution` for an NCHW-shaped ``grad_output`` (any layout):
    ``(grad_input, grad_weight, grad_bias)``, ``grad_weight`` in torch's layout (a view)."""
    grad_x, grad_matrix, grad_bias = convolution_nhwc_backward(nhwc(grad_output), cache)
    return nchw(grad_x), weight_from_matrix(grad_matrix, cache.window.kernel, cache.transposed), grad_bias
