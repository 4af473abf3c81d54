"""Layers, losses and the Module system, mirroring ``torch.nn``."""

from minicnn.nn import init
from minicnn.nn.activation import (
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from minicnn.nn.container import ModuleDict, ModuleList, Sequential
from minicnn.nn.conv import Conv2d
from minicnn.nn.conv_transpose import ConvTranspose2d
from minicnn.nn.dropout import Dropout, Dropout2d
from minicnn.nn.flatten import Flatten
from minicnn.nn.linear import Identity, Linear
from minicnn.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from minicnn.nn.module import Module
from minicnn.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm
from minicnn.nn.parameter import Parameter
from minicnn.nn.pooling import AvgPool2d, MaxPool2d
from minicnn.nn.sync_batchnorm import SyncBatchNorm

__all__ = [
    "GELU",
    "AvgPool2d",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "Dropout",
    "Dropout2d",
    "Flatten",
    "GroupNorm",
    "Identity",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "SyncBatchNorm",
    "Tanh",
    "init",
]
