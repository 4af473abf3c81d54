"""A study's plots as PNG files, drawn by Optuna's matplotlib visualisations.

* ``history.png``: each trial's accuracy and the best so far, in the order trials ran;
* ``importances.png``: how much of the accuracy's variation each parameter explains
  (Optuna's PED-ANOVA importance, over the complete trials);
* ``parallel_coordinates.png``: one line per complete trial through its parameter values,
  coloured by its accuracy.

A plot that needs more trials than the study has is skipped, with the reason returned.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from minicnn.tune._optuna import import_optuna

__all__ = ["PLOTS", "write_plots"]

PLOTS = {
    "history": "plot_optimization_history",
    "importances": "plot_param_importances",
    "parallel_coordinates": "plot_parallel_coordinate",
}
"""File stem -> the function of ``optuna.visualization.matplotlib`` that draws it."""


def _needs(name: str, complete: int, params: int) -> str | None:
    """Why plot ``name`` cannot be drawn from this study, or None if it can."""
    if complete < 1:
        return "no complete trial yet"
    if name != "history" and complete < 2:
        return f"{name.replace('_', ' ')} need at least 2 complete trials"
    if name != "history" and params < 1:
        return "no parameter"
    return None


def write_plots(study, plot_dir: str | Path) -> dict[str, Path | str]:
    """Write the study's PNG plots into ``plot_dir``; ``{stem: path, or why it was skipped}``."""
    optuna = import_optuna()
    import matplotlib
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    params = {name for trial in complete for name in trial.params}
    written: dict[str, Path | str] = {}
    for stem, function_name in PLOTS.items():
        reason = _needs(stem, len(complete), len(params))
        if reason is not None:
            written[stem] = reason
            continue
        # Optuna switches matplotlib's global style: keep the caller's (a notebook's).
        with warnings.catch_warnings(), matplotlib.rc_context():
            # The matplotlib backend of optuna.visualization is marked experimental.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # A parameter that kept one value draws a flat axis; matplotlib warns, harmlessly.
            warnings.filterwarnings("ignore", "Attempting to set identical", UserWarning)
            axes = getattr(optuna_plots, function_name)(study, target_name="test accuracy")
            figure = axes.figure
            figure.set_size_inches(8, 5)
            path = plot_dir / f"{stem}.png"
            figure.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(figure)
        written[stem] = path
    return written
