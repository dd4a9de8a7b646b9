"""Stochastic gradient descent."""
from ..plumbing.args import check_number, shown
from .optimizer import Optimizer, buffer_like


class SGD(Optimizer):
    r"""Stochastic gradient descent with torch.optim.SGD's exact update rule.

    Args:
        params: list of ``(tensor, grad)`` pairs, e.g. ``model.param()``.
        lr (float, optional): learning rate. Default: 1e-3
        momentum (float, optional): momentum factor. Default: 0
        dampening (float, optional): dampening of the momentum. Default: 0
        weight_decay (float, optional): L2 penalty. Default: 0
        nesterov (bool, optional): Nesterov momentum. Default: ``False``
        maximize (bool, optional): ascend instead of descend. Default: ``False``

    Per parameter :math:`p` with gradient :math:`g`:
    :math:`g \leftarrow g + \lambda p`; with momentum :math:`b \leftarrow \mu b + (1 - \tau) g`
    (:math:`b = g` on the first step), then :math:`g \leftarrow g + \mu b` (Nesterov) or
    :math:`g \leftarrow b`; finally :math:`p \leftarrow p - \gamma g`, in place.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False):
        super().__init__(params)
        for name, value in (("lr", lr), ("momentum", momentum), ("dampening", dampening),
                            ("weight_decay", weight_decay)):
            check_number(value, name, "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov requires momentum > 0 and dampening = 0, "
                             f"got momentum={shown(momentum)}, dampening={shown(dampening)}")
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov, self.maximize = weight_decay, nesterov, maximize

    def _update(self, index, param, grad):
        step = -grad if self.maximize else grad
        if self.weight_decay != 0:
            step = step.add(param, alpha=self.weight_decay)
        if self.momentum != 0:
            buffer = self.state.get(index)
            if buffer is None:
                buffer = self.state[index] = step.clone()
            else:
                buffer.mul_(self.momentum).add_(step, alpha=1 - self.dampening)
            step = step.add(buffer, alpha=self.momentum) if self.nesterov else buffer
        param.add_(step, alpha=-self.lr)

    def _restore(self, value, param):
        return buffer_like(value, param, "SGD")
