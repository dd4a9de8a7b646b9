"""The contract every layer, loss and container of the framework follows."""
import contextlib
import threading

from .parameter import Parameter

_state = threading.local()


@contextlib.contextmanager
def inference():
    """Forward passes in this block keep nothing for backward, as under ``torch.inference_mode``:
    each activation is freed once the layers that read it are done, so a prediction needs
    the memory of a few activations, not of every layer's. ``backward`` after such a pass
    fails loudly, as after no forward at all (never with an older pass's values)."""
    before = getattr(_state, "inference", False)
    _state.inference = True
    try:
        yield
    finally:
        _state.inference = before


def in_inference():
    """Whether forward passes now keep nothing for backward (inside :func:`inference`)."""
    return getattr(_state, "inference", False)


class Module:
    """Base class of all layers.

    A module computes ``forward(x)``, keeps only what its gradient needs, and
    ``backward(grad_output)`` returns the gradient with respect to ``x`` while
    *accumulating* (adding to, never overwriting) the gradients of its
    parameters. Each parameter is a :class:`~.parameter.Parameter` (see
    :meth:`named_parameters`) whose tensor is also the module's attribute;
    ``param()`` lists their ``(tensor, grad)`` pairs. Both tensors are updated in
    place by optimizers and by :meth:`load_state_dict`, so a reference taken once
    stays the live one.
    """

    def __init__(self):
        self._parameters = {}

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *inputs):
        return self.forward(*inputs)

    # -- parameters -----------------------------------------------------------------------
    def _register_parameter(self, name, tensor):
        """Make ``tensor`` a parameter with a zeroed gradient; ``self.<name>`` is the tensor itself."""
        self._parameters[name] = Parameter(tensor)
        object.__setattr__(self, name, tensor)

    def children(self):
        """Direct sub-modules as ``(name, module)`` pairs."""
        return []

    def modules(self):
        """This module and every module below it, parents before their children (as torch's)."""
        found = [self]
        for _, child in self.children():
            found.extend(child.modules())
        return found

    def named_parameters(self, prefix=""):
        """``(qualified_name, Parameter)`` for every parameter, names as in torch's state_dict."""
        out = [(prefix + name, parameter) for name, parameter in self._parameters.items()]
        for child_name, child in self.children():
            out.extend(child.named_parameters(prefix + child_name + "."))
        return out

    def named_param(self, prefix=""):
        """``(qualified_name, tensor, grad)`` for every parameter."""
        return [(name, p.data, p.grad) for name, p in self.named_parameters(prefix)]

    def param(self):
        return [(p.data, p.grad) for _, p in self.named_parameters()]

    def zero_grad(self):
        for _, grad in self.param():
            grad.zero_()

    def __setattr__(self, name, value):
        # Rebinding a parameter would leave optimizers updating a tensor nobody reads.
        if name in self.__dict__.get("_parameters", ()):
            raise AttributeError(
                f"{type(self).__name__}.{name} is a parameter; update it in place "
                f"(e.g. .copy_()) or use load_state_dict"
            )
        object.__setattr__(self, name, value)

    # -- persistence and placement ----------------------------------------------------------
    def state_dict(self):
        """Parameters by qualified name (the live tensors, like torch)."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy ``state_dict`` into the parameters in place.

        Returns ``(missing_keys, unexpected_keys)``. With ``strict=True`` any
        missing or unexpected key raises ``KeyError`` naming them all; a shape
        mismatch always raises ``ValueError`` naming the key.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"Error loading state_dict into {type(self).__name__}: "
                f"missing keys {missing}, unexpected keys {unexpected}"
            )
        for key, tensor in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if tuple(value.shape) != tuple(tensor.shape):
                raise ValueError(
                    f"Error loading state_dict into {type(self).__name__}: {key!r} has shape "
                    f"{tuple(value.shape)} in the checkpoint but {tuple(tensor.shape)} in the model"
                )
            tensor.copy_(value)
        return missing, unexpected

    def to(self, *args, **kwargs):
        """Move parameters and gradients in place: the same tensor objects now live there.

        Takes what ``Tensor.to`` takes, so ``to(torch.float64)``, ``to("cpu")``,
        ``to(device, dtype)`` and the keyword forms work as with ``torch.nn.Module.to``.
        """
        for _, parameter in self.named_parameters():
            parameter.to(*args, **kwargs)
        return self

    # -- display ------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        children = self.children()
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)

    def _save(self, **values):
        """Keep what backward needs, with the version of every tensor among it (nothing under
        :func:`inference`)."""
        if in_inference():
            values = dict.fromkeys(values)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self._versions = {name: value._version for name, value in values.items() if hasattr(value, "_version")}

    def _saved(self, *names):
        """Fetch what forward kept for backward, failing loudly if forward never ran or if a
        kept tensor (an input or output the caller holds too) was changed in place since:
        the gradient would silently be that of other numbers, so torch refuses as well."""
        values = [self.__dict__.get(name) for name in names]
        if any(v is None for v in values):
            raise RuntimeError(f"{self!r}: backward called before forward")
        for name, value in zip(names, values):
            if name in self._versions and value._version != self._versions[name]:
                raise RuntimeError(f"{self!r}: a tensor kept for backward ({name.lstrip('_')}) was modified "
                                   f"in place after forward; backward would compute a wrong gradient")
        return values if len(values) > 1 else values[0]
