"""A tqdm bar over a study's trials, with one line per finished trial.

It reads the study's storage, not this process's own trials, so the same bar follows one
worker in this process, several local worker processes, or a study shared with other machines
(their trials count too).
"""

from __future__ import annotations

import sys

from minicnn.tune._optuna import import_optuna
from minicnn.tune.results import describe_trial

__all__ = ["TrialProgress"]


class TrialProgress:
    """Call :meth:`update` after each trial (or every second); :meth:`close` at the end.

    Args:
        study: the Optuna study to follow.
        n_trials: the bar's total: the finished trials the study is run to.
        enabled: draw the bar (the per-trial lines are printed either way).
        out: where the per-trial lines go (default: stdout; the bar draws on stderr).
    """

    def __init__(self, study, n_trials: int, enabled: bool = True, out=None):
        from tqdm import tqdm

        self._optuna = import_optuna()
        self._tqdm = tqdm
        self.out = sys.stdout if out is None else out
        finished = self._finished(study)
        self.seen = {trial.number for trial in finished}
        self.best: float | None = None
        for trial in finished:
            self._track_best(trial)
        self.bar = tqdm(total=n_trials, initial=min(len(finished), n_trials), unit="trial",
                        desc=f"study {study.study_name}", disable=not enabled, file=sys.stderr,
                        dynamic_ncols=True)
        self._show_best()

    def _finished(self, study) -> list:
        states = self._optuna.trial.TrialState
        return study.get_trials(deepcopy=False,
                                states=(states.COMPLETE, states.PRUNED, states.FAIL))

    def _track_best(self, trial) -> None:
        if trial.value is not None and (self.best is None or trial.value > self.best):
            self.best = trial.value

    def _show_best(self) -> None:
        if self.best is not None:
            self.bar.set_postfix(best=f"{self.best:.4f}")

    def update(self, study, *_) -> None:
        """Report the trials finished since the last call (usable as an Optuna callback)."""
        for trial in self._finished(study):
            if trial.number in self.seen:
                continue
            self.seen.add(trial.number)
            self._track_best(trial)
            self._tqdm.write(describe_trial(trial, self.best), file=self.out)
            if trial.state != self._optuna.trial.TrialState.FAIL:
                self.bar.update(1)
        self._show_best()

    def close(self) -> None:
        self.bar.close()
