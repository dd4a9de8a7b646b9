"""What SGD and Adam share: the parameter list, zero_grad, step and a savable state."""
from ..plumbing.args import shown


class Optimizer:
    """Updates ``(tensor, grad)`` pairs in place; subclasses define ``_update``.

    ``state`` maps a parameter's index to its buffers (created on first use, on
    the parameter's device); ``state_dict``/``load_state_dict`` hold only tensors
    and numbers, so checkpoints load with ``torch.load(weights_only=True)``.
    """

    def __init__(self, params):
        params = list(params)
        for i, pair in enumerate(params):
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise TypeError(f"{type(self).__name__}: params[{i}] must be a (tensor, grad) pair, "
                                f"got {type(pair).__name__}; pass module.param()")
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        self.params = params
        self.state = {}

    def zero_grad(self):
        for _, grad in self.params:
            grad.zero_()

    def step(self):
        for index, (param, grad) in enumerate(self.params):
            self._update(index, param, grad)

    def state_dict(self):
        return {"state": dict(self.state)}

    def load_state_dict(self, state_dict):
        """Restore buffers saved by :meth:`state_dict`, moved to each parameter's device.

        A state that does not fit these parameters raises ``ValueError`` naming the
        problem and leaves the optimizer as it was.
        """
        name = type(self).__name__
        entries = state_dict.get("state") if isinstance(state_dict, dict) else None
        if not isinstance(entries, dict):
            raise ValueError(f"{name}: expected a state_dict {{'state': {{index: buffers}}}}, got {shown(state_dict)}")
        state = {}
        for index, value in entries.items():
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.params):
                raise ValueError(f"{name}: state for parameter {shown(index)}, but there are {len(self.params)} parameters")
            state[index] = self._restore(value, self.params[index][0])
        self.state = state

    def _restore(self, value, param):
        """One parameter's saved state, checked against ``param`` and moved next to it."""
        raise NotImplementedError


def buffer_like(value, param, owner):
    """A saved buffer: a floating tensor of ``param``'s shape, moved to its device and dtype."""
    if not (hasattr(value, "is_floating_point") and value.is_floating_point()
            and tuple(value.shape) == tuple(param.shape)):
        raise ValueError(f"{owner}: a saved buffer must be a floating tensor of shape {tuple(param.shape)}, "
                         f"got {getattr(value, 'shape', type(value).__name__)}")
    return value.to(param.device, param.dtype)
