"""A chain of modules."""
from .module import Module


class Sequential(Module):
    """Runs modules in order; backward runs their backwards in reverse, as ``torch.nn.Sequential``.

    Parameters are named ``"<index>.<name>"`` like torch's ``state_dict`` keys, so a
    ``torch.nn.Sequential`` of the same layers loads directly. Containers nest.
    """

    def __init__(self, *modules):
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}, not a Module")
        self.layers = list(modules)

    def children(self):
        return [(str(i), m) for i, m in enumerate(self.layers)]

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def forward(self, x):
        for module in self.layers:
            x = module.forward(x)
        return x

    def backward(self, grad_output):
        for module in reversed(self.layers):
            grad_output = module.backward(grad_output)
        return grad_output
