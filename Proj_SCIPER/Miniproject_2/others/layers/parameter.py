"""A parameter: a tensor with its gradient, what ``Module.param()``'s pairs are made of."""


class Parameter:
    r"""A trainable tensor and the gradient accumulated for it, as ``torch.nn.Parameter``
    and its ``.grad``.

    Not a tensor subclass: the layer's attribute (``conv.weight``) is the plain tensor
    :attr:`data`, so torch functions take it as any other tensor (the course's grader
    calls ``F.conv2d(x, conv.weight, conv.bias)``) and nothing of autograd comes with it.
    Both tensors are only ever updated in place (by optimizers, ``load_state_dict`` and
    :meth:`to`), so a reference taken once stays the live one.

    Args:
        data (Tensor): the values; kept, not copied.

    Attributes:
        data: the tensor.
        grad: a tensor of ``data``'s shape, dtype and device, zero until a backward adds to it.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data):
        self.data = data
        self.grad = data.new_empty(data.shape).zero_()

    @property
    def shape(self):
        return self.data.shape

    def to(self, *args, **kwargs):
        """Move :attr:`data` and :attr:`grad` in place (the same tensor objects now live
        there), taking what ``Tensor.to`` takes. Returns ``self``."""
        for tensor in (self.data, self.grad):
            tensor.data = tensor.data.to(*args, **kwargs)
        return self

    def __repr__(self):
        return f"Parameter containing:\n{self.data!r}"
