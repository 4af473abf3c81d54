"""Optimizer: the base class of every optimiser, shaped like ``torch.optim.Optimizer``.

An optimiser holds *parameter groups* (``param_groups``: a list of dicts, each with a
``'params'`` list and its own hyperparameters, the constructor's ``defaults`` filling in
any it does not give) and per-parameter *state* (``state[param]``: a dict of arrays such as
a momentum buffer, created lazily at a parameter's first update). ``step()`` updates, in
place, every parameter whose ``.grad`` is not ``None``; a subclass writes only the update
of one parameter, :meth:`Optimizer._update_parameter`.

``state_dict()`` has PyTorch's layout: parameters are replaced by integer indices, counted
across the groups in order, so that a checkpoint names no Python object::

    {'state': {0: {'momentum_buffer': ndarray}, ...},
     'param_groups': [{'lr': 0.1, 'momentum': 0.9, ..., 'params': [0, 1]}, ...]}
"""

from __future__ import annotations

import copy
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from minicnn.nn.parameter import Parameter

__all__ = ["Optimizer"]


class Optimizer:
    """Base class for all optimisers.

    Args:
        params: an iterable of :class:`Parameter` s, of ``(name, Parameter)`` pairs (as
            ``model.named_parameters()`` yields), or of dicts each defining a parameter
            group: ``{'params': [...], 'lr': 0.01, ...}``; options a group leaves out are
            taken from ``defaults``. The order must be deterministic (a list, not a set),
            because ``state_dict()`` identifies parameters by their position.
        defaults: the default value of every hyperparameter of this optimiser.

    Attributes:
        defaults: as given.
        param_groups: list of dicts, one per group, holding ``'params'`` (a list of
            Parameters) and every hyperparameter; schedulers change ``group['lr']`` here.
        state: ``defaultdict(dict)`` keyed by :class:`Parameter`; ``state[param]`` holds that
            parameter's buffers (ndarrays of the parameter's shape and dtype) and counters.
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]):
        self.defaults = defaults
        self.state: defaultdict[Parameter, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        # Read by the learning-rate schedulers, to warn when they are stepped before the
        # optimiser (which silently skips the first learning rate of the schedule).
        self._steps_taken = 0

        name = type(self).__name__
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError(
                f"{name}: params should be an iterable of Parameters or dicts, got a single "
                f"{type(params).__name__}; wrap it in a list"
            )
        self._check_options(defaults)
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # ------------------------------------------------------------------ for subclasses
    def _check_options(self, options: dict[str, Any]) -> None:
        """Raise ``ValueError`` if a hyperparameter in ``options`` is out of range.

        Called on the constructor's defaults and on every parameter group, so a group's own
        ``lr`` is checked as strictly as the default one.
        """

    def _update_parameter(self, param: Parameter, grad: np.ndarray, group: dict) -> None:
        """Update ``param.data`` in place from ``grad``, with ``group``'s hyperparameters.

        ``grad`` has the parameter's shape and dtype; it is already negated when
        ``group['maximize']`` is true. It may be ``param.grad`` itself: do not write into it.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement _update_parameter")

    # ------------------------------------------------------------------ stepping
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Perform one optimisation step on every parameter that has a gradient.

        Args:
            closure: optional; a function that re-evaluates the model (forward and
                backward) and returns the loss. It is called before the update.

        Returns:
            The closure's loss, or ``None`` without a closure.
        """
        loss = None if closure is None else closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = self._gradient_for_update(param, group)
                self._update_parameter(param, grad, group)
        self._steps_taken += 1
        return loss

    def _gradient_for_update(self, param: Parameter, group: dict) -> np.ndarray:
        grad = param.grad
        if grad.shape != param.data.shape:
            raise ValueError(
                f"{type(self).__name__}: a parameter of shape {param.data.shape} has a "
                f"gradient of shape {grad.shape}"
            )
        # A gradient of another dtype (set by hand) would otherwise leak into the state
        # buffers: a float64 gradient on a float32 parameter would make float64 buffers.
        grad = np.asarray(grad, dtype=param.data.dtype)
        return -grad if group.get("maximize", False) else grad

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradient of every parameter of every group.

        Args:
            set_to_none: if ``True`` (the default, as in PyTorch) set ``.grad`` to ``None``,
                so the next ``step()`` skips a parameter that gets no new gradient; else
                fill the existing gradient array with zeros, in place.
        """
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad[...] = 0

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group, filling the options it leaves out from ``defaults``.

        Useful when fine-tuning, to start training frozen layers with their own options.

        Args:
            param_group: ``{'params': Parameter or iterable of Parameters (or of
                (name, Parameter) pairs), 'lr': ..., ...}``.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}: a parameter group must be a dict, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group must have a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Parameter):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: parameters must be given in an ordered collection (a list), not a "
                "set, whose order changes between runs and would scramble state_dict()"
            )
        params = list(params)

        names = [entry[0] for entry in params if isinstance(entry, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError(
                    f"{name}: give every parameter of a group with a name, or none of them"
                )
            group["param_names"] = names
            params = [entry[1] for entry in params]
        for param in params:
            if not isinstance(param, Parameter):
                raise TypeError(
                    f"{name}: can only optimise minicnn Parameters, got {type(param).__name__}"
                )
        if len({id(p) for p in params}) != len(params):
            # PyTorch only warns; the duplicate would then be updated twice per step.
            raise ValueError(f"{name}: a parameter group contains the same parameter twice")
        group["params"] = params

        for option, default in self.defaults.items():
            group.setdefault(option, default)
        self._check_options(group)

        seen = {id(p) for existing in self.param_groups for p in existing["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        for existing in self.param_groups:
            if ("param_names" in existing) != ("param_names" in group):
                raise ValueError(
                    f"{name}: all parameter groups must be given with names, or all without"
                )
        self.param_groups.append(group)

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state as a dict of plain values, in PyTorch's layout.

        Returns:
            ``{'state': {index: {key: ndarray or int}}, 'param_groups': [{option: value,
            ..., 'params': [index, ...]}]}``, where a parameter's index is its position
            counting through all groups in order. Parameters without state (never updated)
            have no entry. The arrays are copies, so the dict is a snapshot that later
            steps do not change (PyTorch returns references instead).
        """
        index_of: dict[int, int] = {}
        param_groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = []
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
                packed["params"].append(index_of[id(param)])
            param_groups.append(packed)

        state = {}
        for param, param_state in self.state.items():
            state[index_of[id(param)]] = {
                key: value.copy() if isinstance(value, np.ndarray) else value
                for key, value in param_state.items()
            }
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`state_dict`.

        The optimiser must have been built on the same parameters, in the same groups and
        order, as the one saved. Buffers are copied and cast to their parameter's dtype;
        ``'step'`` counters become Python ints (a checkpoint may have stored them as
        arrays). Every group's options are replaced by the saved ones (the ``'lr'`` a
        scheduler had set included). Resumed training then repeats, bit for bit, the run
        that was saved.

        Warning:
            Create a learning-rate scheduler *before* calling this, as in PyTorch: building
            a scheduler resets each group's ``lr`` to its ``initial_lr``.
        """
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                f"groups, the optimiser has {len(self.param_groups)}"
            )
        param_of_index: dict[int, Parameter] = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(saved['params'])} "
                    f"parameters in the state dict, {len(group['params'])} in the optimiser"
                )
            param_of_index.update(zip(saved["params"], group["params"]))

        state: defaultdict[Parameter, dict[str, Any]] = defaultdict(dict)
        for index, saved_state in state_dict["state"].items():
            if index not in param_of_index:
                raise ValueError(
                    f"{name}.load_state_dict: the state dict has state for parameter {index}, "
                    "which none of its parameter groups lists"
                )
            param = param_of_index[index]
            state[param] = {
                key: self._restored_state_value(param, index, key, value)
                for key, value in saved_state.items()
            }

        param_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            restored = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            restored["params"] = group["params"]
            # A state dict saved before an option existed lacks it (PyTorch fills it too).
            for option, default in self.defaults.items():
                restored.setdefault(option, default)
            if "param_names" in group and "param_names" not in restored:
                restored["param_names"] = group["param_names"]
            param_groups.append(restored)
        self.state = state
        self.param_groups = param_groups

    def _restored_state_value(self, param: Parameter, index: int, key: str, value):
        if key == "step":
            return int(value)
        if isinstance(value, np.ndarray):
            array = np.array(value, dtype=param.data.dtype, copy=True)
            if array.shape != param.data.shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: state {key!r} of parameter "
                    f"{index} has shape {array.shape}, the parameter has shape "
                    f"{param.data.shape}"
                )
            return array
        return copy.deepcopy(value)

    # ------------------------------------------------------------------ repr
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(
                f"    {key}: {group[key]}" for key in sorted(group) if key != "params"
            )
        lines.append(")")
        return "\n".join(lines)


def check_non_negative(optimizer_name: str, description: str, option: str, value) -> None:
    """Raise unless ``value`` is a real number ``>= 0``.

    The message reads ``SGD: invalid learning rate -0.1 (lr must be >= 0)``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{optimizer_name}: {option} must be a real number, got {type(value).__name__} "
            f"{value!r}"
        )
    if not value >= 0.0:
        raise ValueError(
            f"{optimizer_name}: invalid {description} {value!r} ({option} must be >= 0)"
        )
