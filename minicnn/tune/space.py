"""The search space of a study: which training settings to tune, and over which values.

A parameter is written ``NAME=SPEC``, on the command line (``--param``) or in a config file::

    lr=1e-4:1e-1:log        a range sampled on a log scale (low > 0)
    momentum=0.8:0.99       a range sampled uniformly
    batch_size=16:256:log   an integer range: batch_size is an integer setting
    batch_size=32,64,128    a choice among values
    optimizer=sgd,adam      a choice among names

A config file (TOML or JSON) holds the same specs in a ``params`` table, each either the
string above, a list of choices or a table ``{low, high, log}``, and may fix other training
settings in a ``fixed`` table::

    [params]
    lr = "1e-4:1e-1:log"
    batch_size = [32, 64, 128]
    width = { low = 0.5, high = 2.0, log = true }

    [fixed]
    optimizer = "adam"
    epochs = 2

Only the settings in :data:`TUNABLE` can be tuned; each value a range or a choice can produce
is checked against the setting's own limits here, so a bad space fails before any training.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from minicnn.models import MODEL_NAMES
from minicnn.train.config import OPTIMIZERS, SCHEDULERS

__all__ = ["TUNABLE", "Choice", "Range", "SearchSpace", "load_space_file"]


@dataclass(frozen=True)
class Setting:
    """What a tunable TrainConfig setting accepts: a number type and its minimum, or names."""

    kind: type  # float, int or str
    minimum: float | None = None  # the smallest allowed value (numbers only)
    strictly_above: bool = False  # whether the minimum itself is excluded
    names: tuple[str, ...] = ()  # the allowed values (str only)

    def check(self, name: str, value) -> None:
        if self.kind is str:
            if value not in self.names:
                raise ValueError(f"--param {name}: {value!r} is not one of {self.names}")
            return
        too_small = value <= self.minimum if self.strictly_above else value < self.minimum
        if too_small or not math.isfinite(value):
            bound = "above" if self.strictly_above else "at least"
            raise ValueError(f"--param {name}: values must be finite and {bound} "
                             f"{self.minimum:g}, but the space includes {value!r}")


TUNABLE = {
    "lr": Setting(float, 0.0, strictly_above=True),
    "momentum": Setting(float, 0.0),
    "weight_decay": Setting(float, 0.0),
    "width": Setting(float, 0.0, strictly_above=True),
    "batch_size": Setting(int, 1),
    "optimizer": Setting(str, names=OPTIMIZERS),
    "scheduler": Setting(str, names=SCHEDULERS),
    "model": Setting(str, names=MODEL_NAMES),
}
"""The TrainConfig settings a study can tune, with the values each accepts."""


@dataclass(frozen=True)
class Range:
    """A numeric range ``[low, high]``, integer if the setting is; ``log`` samples its log."""

    name: str
    low: float
    high: float
    log: bool = False

    def suggest(self, trial):
        if TUNABLE[self.name].kind is int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "log": self.log}

    def __str__(self) -> str:
        return f"{self.name}={self.low:g}:{self.high:g}" + (":log" if self.log else "")


@dataclass(frozen=True)
class Choice:
    """A choice among a few values (names or numbers)."""

    name: str
    choices: tuple

    def suggest(self, trial):
        return trial.suggest_categorical(self.name, self.choices)

    def to_dict(self) -> list:
        return list(self.choices)

    def __str__(self) -> str:
        return f"{self.name}=" + ",".join(str(choice) for choice in self.choices)


def _setting(name: str) -> Setting:
    if name not in TUNABLE:
        raise ValueError(f"--param {name}: not a tunable setting; choose among "
                         f"{', '.join(TUNABLE)}")
    return TUNABLE[name]


def _number(name: str, text, kind: type):
    """``text`` (a string from the command line, or a number from a file) as ``kind``."""
    if isinstance(text, bool):
        raise ValueError(f"--param {name}: expected a number, got {text!r}")
    if kind is int:
        if isinstance(text, float) and text.is_integer():
            return int(text)
        try:
            if isinstance(text, float):
                raise ValueError(text)  # int() would silently truncate it
            return int(text)
        except (TypeError, ValueError):
            raise ValueError(
                f"--param {name}: {name} is an integer setting, got {text!r}") from None
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ValueError(f"--param {name}: expected a number, got {text!r}") from None


def make_range(name: str, low, high, log: bool = False) -> Range:
    """A checked :class:`Range` of setting ``name``."""
    setting = _setting(name)
    if setting.kind is str:
        raise ValueError(f"--param {name}: {name} takes names, give a choice like "
                         f"{name}={','.join(setting.names[:2])}")
    low, high = _number(name, low, setting.kind), _number(name, high, setting.kind)
    if not low < high:
        raise ValueError(f"--param {name}: a range needs low < high, got {low:g}:{high:g} (to fix "
                         "a setting, pass it as a training option or in the 'fixed' table)")
    if log and not low > 0:
        raise ValueError(f"--param {name}: a log range needs low > 0, got {low:g}")
    setting.check(name, low)
    setting.check(name, high)
    return Range(name, low, high, bool(log))


def make_choice(name: str, values: Iterable) -> Choice:
    """A checked :class:`Choice` of setting ``name``."""
    setting = _setting(name)
    values = [value.strip() if isinstance(value, str) else value for value in values]
    if setting.kind is not str:
        values = [_number(name, value, setting.kind) for value in values]
    if not values:
        raise ValueError(f"--param {name}: no values to choose from")
    if len(set(values)) != len(values):
        raise ValueError(f"--param {name}: the choices {values} repeat a value")
    for value in values:
        setting.check(name, value)
    return Choice(name, tuple(values))


def parse_param(text: str) -> Range | Choice:
    """One ``NAME=SPEC`` (see the module docstring) as a :class:`Range` or a :class:`Choice`."""
    name, separator, spec = text.partition("=")
    name, spec = name.strip(), spec.strip()
    if not separator or not name or not spec:
        raise ValueError(f"--param {text!r}: expected NAME=SPEC, e.g. lr=1e-4:1e-1:log or "
                         "batch_size=32,64,128")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) == 3 and parts[2] == "log":
            return make_range(name, parts[0], parts[1], log=True)
        if len(parts) != 2:
            raise ValueError(f"--param {text!r}: a range is LOW:HIGH or LOW:HIGH:log")
        return make_range(name, parts[0], parts[1])
    return make_choice(name, spec.split(","))


def _param_from_file(name: str, value) -> Range | Choice:
    if isinstance(value, str):
        return parse_param(f"{name}={value}")
    if isinstance(value, list):
        return make_choice(name, value)
    if isinstance(value, dict):
        unknown = set(value) - {"low", "high", "log"}
        if unknown or not {"low", "high"} <= set(value):
            raise ValueError(f"--param {name}: a range table needs 'low' and 'high' (and "
                             f"optionally 'log'), got keys {sorted(value)}")
        return make_range(name, value["low"], value["high"], bool(value.get("log", False)))
    raise ValueError(f"--param {name}: expected a string spec, a list of choices or a "
                     f"{{low, high, log}} table, got {value!r}")


class SearchSpace:
    """The parameters of a study, in order; :meth:`suggest` draws one value of each."""

    def __init__(self, params: Iterable[Range | Choice] = ()):
        self.params: list[Range | Choice] = []
        for param in params:
            if param.name in self.names:
                raise ValueError(f"--param {param.name}: given twice")
            self.params.append(param)

    @property
    def names(self) -> list[str]:
        return [param.name for param in self.params]

    @classmethod
    def parse(cls, specs: Iterable[str]) -> SearchSpace:
        """The space of ``NAME=SPEC`` strings: ``SearchSpace.parse(["lr=1e-3:1:log"])``."""
        return cls(parse_param(spec) for spec in specs)

    def suggest(self, trial) -> dict:
        """One value of each parameter, drawn by ``trial`` (an ``optuna.Trial``)."""
        return {param.name: param.suggest(trial) for param in self.params}

    def to_dict(self) -> dict:
        """The space as JSON-able data, the ``params`` table of a config file."""
        return {param.name: param.to_dict() for param in self.params}

    @classmethod
    def from_dict(cls, values: dict) -> SearchSpace:
        return cls(_param_from_file(name, value) for name, value in values.items())

    def __eq__(self, other) -> bool:
        return isinstance(other, SearchSpace) and self.params == other.params

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        return "SearchSpace(" + ", ".join(str(param) for param in self.params) + ")"


def load_space_file(path: str | Path) -> tuple[SearchSpace, dict]:
    """The search space and the fixed settings of a TOML or JSON config file."""
    path = Path(path)
    text = path.read_text()
    if path.suffix == ".json":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
    elif path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            raise ValueError(f"{path}: TOML needs Python 3.11 or later; write the same tables "
                             "as JSON") from None

        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML ({error})") from None
    else:
        raise ValueError(f"{path}: expected a .toml or .json file")
    if not isinstance(values, dict) or set(values) - {"params", "fixed"}:
        raise ValueError(f"{path}: expected only the tables 'params' and 'fixed', got "
                         f"{sorted(values) if isinstance(values, dict) else type(values).__name__}")
    params, fixed = values.get("params", {}), values.get("fixed", {})
    if not isinstance(params, dict) or not isinstance(fixed, dict):
        raise ValueError(f"{path}: 'params' and 'fixed' must be tables")
    try:
        return SearchSpace.from_dict(params), dict(fixed)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
