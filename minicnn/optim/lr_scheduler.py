"""Learning-rate schedulers, shaped like ``torch.optim.lr_scheduler``.

A scheduler changes ``group['lr']`` of its optimiser's parameter groups. Call
``scheduler.step()`` once per epoch (per batch for :class:`OneCycleLR`), *after*
``optimizer.step()``::

    for epoch in range(epochs):
        train_one_epoch(model, optimizer)       # calls optimizer.step() per batch
        scheduler.step()

Conventions shared with PyTorch:

* Building a scheduler with ``last_epoch=-1`` stores each group's starting ``lr`` as
  ``group['initial_lr']`` (``base_lrs``) and takes an *initial step* that sets
  ``last_epoch`` to 0 and the learning rates to their epoch-0 values.
* ``last_epoch`` counts the ``step()`` calls since; ``get_last_lr()`` returns the learning
  rates the last step set.
* Most schedulers are *chainable*: ``get_lr()`` computes the next rate from the current
  ``group['lr']``, so another scheduler (or the user) may change it too. The *closed
  form* (from ``base_lrs`` and ``last_epoch`` alone) is used only when ``step(epoch)`` is
  given an explicit epoch, a deprecated use kept for compatibility.
* Resuming: build the optimiser and the scheduler, then load both state dicts.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from typing import Any

from minicnn.optim.optimizer import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
]

_EPOCH_DEPRECATION_WARNING = (
    "Passing an epoch to scheduler.step() is deprecated (as in PyTorch): it sets last_epoch "
    "and uses the closed-form learning rate where there is one. Call step() without an "
    "argument instead."
)


def _check_optimizer(scheduler_name: str, optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{scheduler_name}: expected a minicnn.optim.Optimizer, got "
            f"{type(optimizer).__name__}"
        )


def _is_positive_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _per_group(scheduler_name: str, name: str, optimizer: Optimizer, value) -> list:
    """``value`` repeated once per parameter group, or checked to have one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{scheduler_name}: {name} must have one value per parameter group "
                f"({len(optimizer.param_groups)}), got {len(value)} values"
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


class LRScheduler:
    """Base class of the epoch-driven schedulers.

    A subclass implements :meth:`get_lr` (the chainable rule) and, where a formula in
    ``last_epoch`` exists, ``_get_closed_form_lr``.

    Args:
        optimizer: the :class:`Optimizer` whose learning rates to schedule.
        last_epoch: index of the last epoch seen. ``-1`` (the default) starts the schedule;
            another value resumes one, and needs every group to hold an ``'initial_lr'``
            (as a loaded optimiser state dict does).

    Attributes:
        optimizer: the optimiser.
        base_lrs: each group's ``initial_lr``.
        last_epoch: the number of ``step()`` calls since the schedule started (0 after
            construction).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"{name}: resuming with last_epoch={last_epoch} needs "
                        f"'initial_lr' in every parameter group, and group {i} has none; "
                        "load the optimiser's state dict first, or use last_epoch=-1 for a "
                        "fresh run"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Take the step that sets the epoch-0 learning rates (or the resumed epoch's)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for the epoch ``last_epoch`` (just incremented), per group.

        Called by :meth:`step`; to read the current rates use :meth:`get_last_lr`.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last :meth:`step`, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one epoch and write the new rates into the optimiser.

        Args:
            epoch: deprecated (as in PyTorch). If given, set ``last_epoch`` to it and use
                the closed form where the scheduler has one.
        """
        if self._step_count == 1 and self.optimizer._steps_taken == 0:
            warnings.warn(
                f"{type(self).__name__}.step() was called before optimizer.step(); call "
                "optimizer.step() first, or the first learning rate of the schedule is "
                "skipped",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            warnings.warn(_EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimiser, as plain values (a deep copy)."""
        return {
            key: copy.deepcopy(value) for key, value in self.__dict__.items() if key != "optimizer"
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`state_dict`."""
        self.__dict__.update(copy.deepcopy(state_dict))


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr(epoch) = initial_lr * gamma ** (epoch // step_size)``; e.g. with ``lr=0.05``,
    ``step_size=30``, ``gamma=0.1``: 0.05 for epochs 0-29, 0.005 for 30-59, ...

    Args:
        optimizer: wrapped optimiser.
        step_size: period of the decay, in epochs (a positive int).
        gamma: multiplicative factor of the decay. Default: 0.1.
        last_epoch: index of the last epoch. Default: -1.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        if not _is_positive_int(step_size):
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each epoch listed in ``milestones``.

    ``lr(epoch) = initial_lr * gamma ** (number of milestones <= epoch)``; a milestone
    listed twice decays twice.

    Args:
        optimizer: wrapped optimiser.
        milestones: epoch indices (ints), in increasing order.
        gamma: multiplicative factor of the decay. Default: 0.1.
        last_epoch: index of the last epoch. Default: -1.
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr = initial_lr * gamma**epoch``.

    Args:
        optimizer: wrapped optimiser.
        gamma: multiplicative factor of the decay.
        last_epoch: index of the last epoch. Default: -1.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # The initial step must not decay: when resuming, the loaded lr is already right.
        if self._is_initial:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate from ``initial_lr`` to ``eta_min`` along half a cosine.

    Closed form, at epoch :math:`t`::

        lr(t) = eta_min + (initial_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    As in PyTorch the rate is updated recursively (so that it chains with other changes),
    ``lr(t) = eta_min + (lr(t-1) - eta_min) * (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1)
    / T_max))``, which equals the closed form when nothing else changes the rate. Past
    ``T_max`` the cosine continues, so the rate rises again (period ``2 * T_max``); there
    are no warm restarts.

    Args:
        optimizer: wrapped optimiser.
        T_max: number of epochs of the descent (half period), ``> 0``.
        eta_min: the minimum learning rate. Default: 0.
        last_epoch: index of the last epoch. Default: -1.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1):
        if not _is_real(T_max) or not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive number, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and self.last_epoch > 0:
            # Resumed with last_epoch > 0: there is no previous rate to recurse from.
            return self._get_closed_form_lr()
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            # At the bottom of the cosine the recursion divides by 1 + cos(pi) = 0; step up
            # from eta_min by the first increment of the rising half instead.
            return [
                group["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups)
            ]
        return [
            (1 + math.cos(math.pi * self.last_epoch / self.T_max))
            / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
            * (group["lr"] - self.eta_min)
            + self.eta_min
            for group in self.optimizer.param_groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (Smith & Topin, 2017): warm up to ``max_lr``, then anneal far below.

    Stepped once per *batch*. With the default two phases (fastai's variant) over
    ``total_steps`` steps:

    1. steps ``0 .. pct_start * total_steps - 1``: lr from ``max_lr / div_factor`` up to
       ``max_lr``; momentum from ``max_momentum`` down to ``base_momentum``;
    2. then to step ``total_steps - 1``: lr from ``max_lr`` down to ``initial_lr /
       final_div_factor``; momentum back up to ``max_momentum``.

    With ``three_phase=True`` (the paper's schedule) phase 2 mirrors phase 1 back to
    ``initial_lr`` and a third phase anneals to the minimum. Each phase interpolates with
    ``anneal_strategy``: ``'cos'``, ``end + (start - end) * (1 + cos(pi * pct)) / 2``, or
    ``'linear'``. When ``cycle_momentum`` is true the optimiser's ``momentum`` (SGD,
    RMSprop) or ``betas[0]`` (Adam, AdamW) is cycled inversely to the learning rate.

    Args:
        optimizer: wrapped optimiser.
        max_lr: peak learning rate, one for all groups or a list with one per group.
        total_steps: number of steps in the cycle; or give ``epochs`` and
            ``steps_per_epoch`` and it is their product.
        epochs: number of epochs (with ``steps_per_epoch``).
        steps_per_epoch: number of steps per epoch (with ``epochs``).
        pct_start: fraction of the cycle spent increasing the rate. Default: 0.3.
        anneal_strategy: ``'cos'`` or ``'linear'``. Default: ``'cos'``.
        cycle_momentum: cycle the momentum inversely to the rate. Default: ``True``.
        base_momentum: the momentum at the peak rate (float or per-group list). Default: 0.85.
        max_momentum: the momentum at the start and end (float or list). Default: 0.95.
        div_factor: ``initial_lr = max_lr / div_factor``. Default: 25.
        final_div_factor: ``min_lr = initial_lr / final_div_factor``. Default: ``1e4``.
        three_phase: use the paper's three phases. Default: ``False``.
        last_epoch: index of the last *batch*, to resume. Default: -1.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ):
        _check_optimizer("OneCycleLR", optimizer)
        self.optimizer = optimizer

        if total_steps is not None:
            if not _is_positive_int(total_steps):
                raise ValueError(
                    f"OneCycleLR: expected a positive integer total_steps, got {total_steps!r}"
                )
            self.total_steps = int(total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            if not _is_positive_int(epochs):
                raise ValueError(f"OneCycleLR: expected a positive integer epochs, got {epochs!r}")
            if not _is_positive_int(steps_per_epoch):
                raise ValueError(
                    "OneCycleLR: expected a positive integer steps_per_epoch, got "
                    f"{steps_per_epoch!r}"
                )
            self.total_steps = int(epochs) * int(steps_per_epoch)
        else:
            raise ValueError(
                "OneCycleLR: give either total_steps or both epochs and steps_per_epoch"
            )
        if not _is_real(pct_start) or not 0 <= pct_start <= 1:
            raise ValueError(
                f"OneCycleLR: expected pct_start to be a number in [0, 1], got {pct_start!r}"
            )
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self._anneal_func_type = anneal_strategy

        # Each phase names the group keys it interpolates between; the end steps are
        # fractional when pct_start * total_steps is.
        if three_phase:
            self._schedule_phases = [
                {"end_step": float(pct_start * self.total_steps) - 1,
                 "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * self.total_steps) - 2,
                 "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": self.total_steps - 1,
                 "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": float(pct_start * self.total_steps) - 1,
                 "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": self.total_steps - 1,
                 "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]

        max_lrs = _per_group("OneCycleLR", "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"OneCycleLR: cycle_momentum=True needs an optimiser with a momentum or "
                    f"betas option, and {type(optimizer).__name__} has neither; pass "
                    "cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group("OneCycleLR", "max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("OneCycleLR", "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, group_max, group_base in zip(
                    optimizer.param_groups, max_momentums, base_momentums
                ):
                    self._set_momentum(group, group_max)
                    group["max_momentum"] = group_max
                    group["base_momentum"] = group_base

        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict, momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _anneal(self, start: float, end: float, pct: float) -> float:
        """Interpolate from ``start`` (``pct = 0``) to ``end`` (``pct = 1``)."""
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {step_num} times, but the cycle has "
                f"total_steps={self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        ))
                    break
                start_step = phase["end_step"]
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Reduce the learning rate when a metric has stopped improving.

    ``step(metric)`` is called once per epoch with a validation metric. A metric counts as
    an improvement when it beats the best so far by the threshold (``mode='min'``,
    ``threshold_mode='rel'``: ``metric < best * (1 - threshold)``; ``'abs'``: ``metric <
    best - threshold``; mirrored for ``'max'``). After more than ``patience`` epochs in a
    row without one, every group's rate becomes ``max(lr * factor, min_lr)`` (skipped when
    that changes it by no more than ``eps``), and ``cooldown`` epochs follow in which bad
    epochs are not counted.

    Args:
        optimizer: wrapped optimiser.
        mode: ``'min'`` (the metric should decrease, e.g. a loss) or ``'max'``.
        factor: multiplier of the rate at a reduction, ``< 1``. Default: 0.1.
        patience: number of bad epochs tolerated before reducing. Default: 10.
        threshold: the margin of a significant improvement. Default: ``1e-4``.
        threshold_mode: ``'rel'`` or ``'abs'``. Default: ``'rel'``.
        cooldown: epochs to wait after a reduction before counting bad epochs. Default: 0.
        min_lr: lower bound of the rate, a float or one per group. Default: 0.
        eps: smallest change of the rate worth making. Default: ``1e-8``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ):
        # Driven by a metric rather than an epoch count, so (as in PyTorch) it skips the
        # base class's initial_lr / initial step.
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor!r}")
        _check_optimizer("ReduceLROnPlateau", optimizer)
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group("ReduceLROnPlateau", "min_lr", optimizer, min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics, epoch: int | None = None) -> None:
        """Record this epoch's metric and reduce the learning rate if it has plateaued.

        Args:
            metrics: the monitored quantity (anything ``float()`` accepts).
            epoch: deprecated (as in PyTorch); sets ``last_epoch``.
        """
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(_EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch

        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(
                    f"ReduceLROnPlateau: the optimiser has {len(self.optimizer.param_groups)} "
                    f"parameter groups but min_lrs has {len(self.min_lrs)} entries (was a "
                    "group added?); set min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, current: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return current < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return current < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return current > best * (self.threshold + 1.0)
        return current > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                f"{threshold_mode!r}"
            )
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(
            mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode
        )
