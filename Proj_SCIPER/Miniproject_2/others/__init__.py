"""n2n-nograd: a deep-learning framework with hand-written gradients on raw torch tensors."""
from .layers.avg_pool2d import AvgPool2d
from .layers.conv2d import Conv2d
from .layers.join import ConcatJoin
from .layers.leaky_relu import LeakyReLU
from .layers.max_pool2d import MaxPool2d
from .layers.module import Module
from .layers.mse import MSE
from .layers.relu import ReLU
from .layers.sequential import Sequential
from .layers.sigmoid import Sigmoid
from .layers.skip import Residual, SkipConcat
from .layers.transpose_conv2d import TransposeConv2d
from .layers.upsampling import NearestUpsampling, NNUpsampling, Upsampling
from .optim.adam import Adam
from .optim.sgd import SGD

__all__ = ["Adam", "AvgPool2d", "ConcatJoin", "Conv2d", "LeakyReLU", "MSE", "MaxPool2d", "Module", "NNUpsampling",
           "NearestUpsampling", "ReLU", "Residual", "SGD", "Sequential", "Sigmoid", "SkipConcat", "TransposeConv2d",
           "Upsampling"]
