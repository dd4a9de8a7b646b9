"""n2n-nograd: a deep-learning framework with hand-written gradients on raw torch tensors."""
from .adam import Adam
from .avg_pool2d import AvgPool2d
from .conv2d import Conv2d
from .join import ConcatJoin
from .leaky_relu import LeakyReLU
from .max_pool2d import MaxPool2d
from .module import Module
from .mse import MSE
from .relu import ReLU
from .sequential import Sequential
from .sgd import SGD
from .sigmoid import Sigmoid
from .skip import Residual, SkipConcat
from .transpose_conv2d import TransposeConv2d
from .upsampling import NearestUpsampling, NNUpsampling, Upsampling

__all__ = ["Adam", "AvgPool2d", "ConcatJoin", "Conv2d", "LeakyReLU", "MSE", "MaxPool2d", "Module", "NNUpsampling",
           "NearestUpsampling", "ReLU", "Residual", "SGD", "Sequential", "Sigmoid", "SkipConcat", "TransposeConv2d",
           "Upsampling"]
