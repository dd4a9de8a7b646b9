"""What SGD and Adam share: the parameter list, zero_grad, step and a savable state."""


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
        """Restore buffers saved by :meth:`state_dict`, moved to each parameter's device."""
        self.state = {}
        for index, value in state_dict["state"].items():
            param = self.params[int(index)][0]
            if isinstance(value, tuple):
                value = tuple(v.to(param.device, param.dtype) if hasattr(v, "to") else v for v in value)
            else:
                value = value.to(param.device, param.dtype)
            self.state[int(index)] = value
