"""n2n-nograd: a deep-learning framework with hand-written gradients on raw torch tensors."""
from .adam import Adam
from .conv2d import Conv2d
from .module import Module
from .mse import MSE
from .relu import ReLU
from .sequential import Sequential
from .sgd import SGD
from .sigmoid import Sigmoid
from .transpose_conv2d import TransposeConv2d
from .upsampling import NearestUpsampling, Upsampling

__all__ = ["Adam", "Conv2d", "MSE", "Module", "NearestUpsampling", "ReLU", "SGD", "Sequential",
           "Sigmoid", "TransposeConv2d", "Upsampling"]
