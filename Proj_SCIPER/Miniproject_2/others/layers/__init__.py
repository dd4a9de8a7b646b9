"""The layers, containers and loss, each forward beside its backward (as torch.nn.modules)."""
