"""What the convolution layers compute with: the kernels, im2col, channels-last storage,
scratch memory and mixed precision (as torch.nn.functional's convolutions)."""
