"""Exercise 4: im2col and col2im, the two halves of a convolution done as a matrix product.

Check your answer with ``minicnn exercises check DIR im2col``.
"""

import numpy as np


def im2col(x_padded, kernel_size, stride):
    """Unroll every ``kernel_size x kernel_size`` window of an (already padded) image batch.

    Args:
        x_padded: ``(N, C, H, W)``; padding, if any, is already applied.
        kernel_size: ``k``, an int (square windows).
        stride: ``s``, an int: windows start every ``s`` rows and columns.

    Returns:
        ``cols`` of shape ``(N, C, k, k, H_out, W_out)`` and ``x_padded``'s dtype, with
        ``cols[n, c, ky, kx, oy, ox] = x_padded[n, c, oy*s + ky, ox*s + kx]``.

    Shape:
        ``H_out = (H - k) // s + 1``, ``W_out = (W - k) // s + 1``

    Hint:
        Loop over the ``k*k`` kernel offsets ``(ky, kx)`` only: for one offset, the entries for
        every sample, channel and window form one strided slice of ``x_padded``
        (``x_padded[:, :, ky : ky + s*(H_out - 1) + 1 : s, ...]``).
    """
    raise NotImplementedError


def col2im(cols, padded_shape, stride):
    """The adjoint of :func:`im2col`: put every column entry back where it was copied from.

    Args:
        cols: ``(N, C, k, k, H_out, W_out)``, e.g. the gradient of a loss with respect to
            :func:`im2col`'s output.
        padded_shape: ``(N, C, H, W)``, the shape of the image :func:`im2col` unrolled.
        stride: the stride given to :func:`im2col`.

    Returns:
        ``(N, C, H, W)`` in ``cols``' dtype.

    Hint:
        When windows overlap (stride smaller than the kernel), one pixel was copied into several
        columns; by the chain rule its gradient is the *sum* of their gradients. Walk the same
        slices as :func:`im2col`, with ``+=``, into ``np.zeros(padded_shape, dtype=cols.dtype)``.
    """
    raise NotImplementedError
