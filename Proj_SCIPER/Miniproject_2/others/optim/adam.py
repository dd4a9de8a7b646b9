"""Adam."""
import math

from ..plumbing.args import check_number, shown
from .optimizer import Optimizer, buffer_like


class Adam(Optimizer):
    r"""Adam with torch.optim.Adam's update rule (L2 weight decay, no AMSGrad).

    Args:
        params: list of ``(tensor, grad)`` pairs, e.g. ``model.param()``.
        lr (float, optional): learning rate. Default: 1e-3
        betas (tuple, optional): decay rates of the first and second moments. Default: (0.9, 0.999)
        eps (float, optional): added to the denominator. Default: 1e-8
        weight_decay (float, optional): L2 penalty. Default: 0
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params)
        for name, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
            check_number(value, name, "Adam")
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"Adam: betas must be a pair of numbers in [0, 1), got {shown(betas)}")
        for beta in betas:
            check_number(beta, "each of betas", "Adam", high=1, high_open=True)
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay

    def _update(self, index, param, grad):
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            grad = grad.add(param, alpha=self.weight_decay)
        if index not in self.state:
            self.state[index] = (0, param.new_empty(param.shape).zero_(), param.new_empty(param.shape).zero_())
        step, mean, square = self.state[index]
        step += 1
        self.state[index] = (step, mean, square)
        mean.lerp_(grad, 1 - beta1)
        square.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denominator = (square.sqrt() / math.sqrt(1 - beta2 ** step)).add_(self.eps)
        param.addcdiv_(mean, denominator, value=-self.lr / (1 - beta1 ** step))

    def _restore(self, value, param):
        if not (isinstance(value, tuple) and len(value) == 3 and isinstance(value[0], int)
                and not isinstance(value[0], bool) and value[0] > 0):
            raise ValueError(f"Adam: a saved state must be (step > 0, exp_avg, exp_avg_sq), got {shown(value)}")
        return (value[0], buffer_like(value[1], param, "Adam"), buffer_like(value[2], param, "Adam"))
