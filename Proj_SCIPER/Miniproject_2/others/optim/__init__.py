"""The optimizers: SGD and Adam over a module's param() pairs (as torch.optim)."""
