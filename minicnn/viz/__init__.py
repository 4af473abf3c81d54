"""See what a network learns: figures of training runs, filters, activations and gradients.

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas
(no display needed, no pyplot state): save it with :func:`save_figure`, or let a notebook
show it. matplotlib is imported inside those functions, so ``import minicnn.viz`` stays cheap
and the array helpers (:func:`tile_images`, :func:`capture_feature_maps`,
:func:`record_gradient_flow`, :func:`summary`) work without it.

=========================  =================================================================
module                     what it draws or computes
=========================  =================================================================
``curves``                 loss, accuracy and learning rate per epoch of a run directory
``filters``                the first convolution's kernels as a grid (colour for RGB input)
``feature_maps``           every conv layer's output for one image (forward hooks)
``confusion``              the confusion matrix of a test set
``mistakes``               the test images the network got wrong most confidently
``gradient_flow``          mean / max ``|grad|`` reaching each layer (backward hooks)
``summary``                a torchsummary-like table: shapes, parameters, mult-adds, im2col
``grid``                   images tiled into one array (shared with the TensorBoard logger)
=========================  =================================================================

The functions here take a model and arrays, never a run directory's internals, so they sit
below :mod:`minicnn.train` (whose TensorBoard logger uses them) and the command line
(``minicnn plot RUN_DIR`` strings them together).
"""

from minicnn.viz._figure import new_figure, save_figure
from minicnn.viz.confusion import confusion_matrix, plot_confusion_matrix
from minicnn.viz.curves import plot_training_curves, read_metrics
from minicnn.viz.feature_maps import capture_feature_maps, plot_feature_maps
from minicnn.viz.filters import first_conv, plot_filters
from minicnn.viz.gradient_flow import LayerGradient, plot_gradient_flow, record_gradient_flow
from minicnn.viz.grid import tile_images
from minicnn.viz.mistakes import confident_mistakes, plot_mistakes, predict_probabilities
from minicnn.viz.summary import LayerSummary, ModelSummary, summary

__all__ = [
    "LayerGradient",
    "LayerSummary",
    "ModelSummary",
    "capture_feature_maps",
    "confident_mistakes",
    "confusion_matrix",
    "first_conv",
    "new_figure",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_gradient_flow",
    "plot_mistakes",
    "plot_training_curves",
    "predict_probabilities",
    "read_metrics",
    "record_gradient_flow",
    "save_figure",
    "summary",
    "tile_images",
]
