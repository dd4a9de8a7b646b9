"""Mixed precision: the dtype the convolutions' matrix products run in.

``"fp32"`` (the default) computes everything in the parameters' dtype. ``"bf16"`` runs each
convolution's products (forward, and both products of backward) in bfloat16, the way
``torch.autocast`` does with float32 master weights: the operands are rounded to bfloat16
(an 8-bit significand), the matrix kernel accumulates in float32, and each block's result is
rounded once to bfloat16 and then summed, biased and stored in float32. Parameters,
gradients, optimizer state, the loss and every other layer stay float32: between layers
activations are float32, so every layer keeps its interface and its checks; the other
layers are under a tenth of the deep model's training step (``benchmarks/speed.py
--layers``). Any device computes bf16; one without bfloat16 matrix units does it slowly
(``n2n``'s ``--precision auto`` picks bf16 only where they exist).
"""
import torch

from ..plumbing.args import shown

#: Convolutions with at most this many input channels read the picture itself, and keep
#: float32 under bf16: bfloat16 would round the picture by up to half a grey level before
#: anything is computed (the deep model at sigma 5 on 1,000 unseen crops: 0.053 dB below
#: fp32 with its first convolution in bf16, 0.029 with it in float32; the last one, which
#: writes the picture, made no difference), for about 1% of the products.
PICTURE_CHANNELS = 4
#: The settings, and the products' dtype for each (None: the input's own).
COMPUTE_DTYPES = {"fp32": None, "bf16": torch.bfloat16}
PRECISIONS = tuple(COMPUTE_DTYPES)


def check_precision(precision, owner):
    """``precision`` if it is one of :data:`PRECISIONS`, else ``ValueError`` naming it."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"{owner}: precision must be one of {PRECISIONS}, got {shown(precision)}")
    return precision


def set_precision(module, precision):
    """Make every convolution in ``module`` (and below) compute its products in
    ``precision`` (``"fp32"`` or ``"bf16"``), but those reading the picture
    (:data:`PICTURE_CHANNELS`), which stay in the input's dtype; returns ``module``."""
    compute = COMPUTE_DTYPES[precision]
    for current in module.modules():
        if hasattr(current, "compute_dtype"):
            current.compute_dtype = None if current.in_channels <= PICTURE_CHANNELS else compute
    return module
