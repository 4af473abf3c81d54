"""Atomic operations on int64 arrays for Numba kernels shared by several threads.

Numba has no atomics of its own; these intrinsics emit LLVM's, each on one element of a
1-D int64 array: the chunk counter of :mod:`minicnn.kernels.conv`, the arrival counts of its
gradient tree, and the task words by which :mod:`minicnn.kernels.split` hands parts to
helper threads.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["atomic_add", "atomic_load", "compare_and_swap", "cpu_pause"]


@intrinsic
def atomic_load(typingctx, words, index):
    """``words[index]`` (int64) read as one atomic step with acquire ordering."""
    signature = types.int64(words, index)

    def codegen(context, builder, signature, arguments):
        array = context.make_array(signature.args[0])(context, builder, arguments[0])
        pointer = builder.gep(array.data, [arguments[1]])
        return builder.load_atomic(pointer, "acquire", 8)

    return signature, codegen


@intrinsic
def atomic_add(typingctx, words, index, value):
    """``words[index] += value`` (int64) as one atomic step; returns the old value."""
    signature = types.int64(words, index, value)

    def codegen(context, builder, signature, arguments):
        array = context.make_array(signature.args[0])(context, builder, arguments[0])
        pointer = builder.gep(array.data, [arguments[1]])
        return builder.atomic_rmw("add", pointer, arguments[2], "seq_cst")

    return signature, codegen


@intrinsic
def compare_and_swap(typingctx, words, index, expected, new):
    """``words[index] = new`` if it holds ``expected``, as one atomic step; returns the
    value it held."""
    signature = types.int64(words, index, expected, new)

    def codegen(context, builder, signature, arguments):
        array = context.make_array(signature.args[0])(context, builder, arguments[0])
        pointer = builder.gep(array.data, [arguments[1]])
        pair = builder.cmpxchg(pointer, arguments[2], arguments[3], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)

    return signature, codegen


@intrinsic
def cpu_pause(typingctx):
    """The x86 ``pause`` instruction: tells the core this is a spin loop (it saves power and
    leaves the pipeline to the other hyper-thread); nothing on other processors."""
    signature = types.void()

    def codegen(context, builder, signature, arguments):
        if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
            pause = builder.module.declare_intrinsic("llvm.x86.sse2.pause",
                                                     fnty=ir.FunctionType(ir.VoidType(), []))
            builder.call(pause, [])
        return context.get_dummy_value()

    return signature, codegen
