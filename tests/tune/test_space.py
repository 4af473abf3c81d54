"""minicnn.tune.space: NAME=SPEC parsing, config files, checks, and what a trial draws."""

from __future__ import annotations

import json

import optuna
import pytest

from minicnn.tune.space import Choice, Range, SearchSpace, load_space_file, parse_param


@pytest.mark.parametrize(("text", "expected"), [
    ("lr=1e-4:1e-1:log", Range("lr", 1e-4, 1e-1, log=True)),
    ("momentum=0.8:0.99", Range("momentum", 0.8, 0.99)),
    ("batch_size=16:256:log", Range("batch_size", 16, 256, log=True)),
    ("weight_decay=0:0.01", Range("weight_decay", 0.0, 0.01)),
    ("batch_size=32,64,128", Choice("batch_size", (32, 64, 128))),
    ("optimizer=sgd, adam", Choice("optimizer", ("sgd", "adam"))),
    ("width=0.5,1,2", Choice("width", (0.5, 1.0, 2.0))),
    (" scheduler = cosine,onecycle ", Choice("scheduler", ("cosine", "onecycle"))),
])
def test_specs_parse_to_ranges_and_choices(text, expected):
    param = parse_param(text)
    assert param == expected
    # Integer settings give integers, so a trial's batch_size is an int, never 32.0.
    values = param.choices if isinstance(param, Choice) else (param.low, param.high)
    kind = int if expected.name == "batch_size" else (str if expected.name in (
        "optimizer", "scheduler") else float)
    assert all(type(value) is kind for value in values), values


@pytest.mark.parametrize(("text", "message"), [
    ("lr", "expected NAME=SPEC"),
    ("lr=", "expected NAME=SPEC"),
    ("depth=1:3", "not a tunable setting; choose among lr, momentum"),
    ("lr=0:1:log", "a log range needs low > 0, got 0"),
    ("lr=0:1", "values must be finite and above 0, but the space includes 0.0"),
    ("lr=0.1:0.01", "a range needs low < high, got 0.1:0.01"),
    ("lr=1e-3:0.1:linear", "a range is LOW:HIGH or LOW:HIGH:log"),
    ("lr=a:b", "expected a number, got 'a'"),
    ("momentum=-0.5:0.9", "at least 0, but the space includes -0.5"),
    ("batch_size=16.5:64", "batch_size is an integer setting, got '16.5'"),
    ("batch_size=0,32", "at least 1, but the space includes 0"),
    ("batch_size=32,32", "repeat a value"),
    ("optimizer=sgd,lbfgs", "'lbfgs' is not one of ('sgd', 'adam', 'adamw', 'rmsprop')"),
    ("optimizer=1:2", "optimizer takes names, give a choice like optimizer=sgd,adam"),
    ("lr=1e-3:inf", "values must be finite"),
])
def test_bad_specs_fail_with_a_sentence(text, message):
    with pytest.raises(ValueError, match="--param") as error:
        parse_param(text)
    assert message in str(error.value), str(error.value)


def test_a_parameter_given_twice_is_refused():
    with pytest.raises(ValueError, match="--param lr: given twice"):
        SearchSpace.parse(["lr=1e-3:1:log", "lr=0.1,0.2"])


def test_suggest_draws_each_parameter_within_its_space():
    space = SearchSpace.parse(["lr=1e-4:1e-1:log", "batch_size=16:256:log",
                               "optimizer=sgd,adam", "momentum=0.8:0.99"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        trial = study.ask()
        params = space.suggest(trial)
        assert list(params) == ["lr", "batch_size", "optimizer", "momentum"]
        assert 1e-4 <= params["lr"] <= 1e-1
        assert isinstance(params["batch_size"], int) and 16 <= params["batch_size"] <= 256
        assert params["optimizer"] in ("sgd", "adam")
        assert 0.8 <= params["momentum"] <= 0.99
        study.tell(trial, 0.0)
    # The log scale is Optuna's: the distribution records it.
    distribution = study.trials[0].distributions["lr"]
    assert distribution.log and distribution.low == 1e-4 and distribution.high == 1e-1


def test_to_dict_and_back_is_the_same_space():
    space = SearchSpace.parse(["lr=1e-4:1e-1:log", "batch_size=32,64", "width=0.5:2"])
    data = json.loads(json.dumps(space.to_dict()))  # as the study stores it
    assert SearchSpace.from_dict(data) == space
    assert repr(space) == (
        "SearchSpace(lr=0.0001:0.1:log, batch_size=32,64, width=0.5:2)")


def test_toml_file_holds_params_and_fixed_settings(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[params]\nlr = "1e-4:1e-1:log"\nbatch_size = [32, 64]\n'
                    'width = { low = 0.5, high = 2.0, log = true }\n\n'
                    '[fixed]\noptimizer = "adam"\nepochs = 3\n')
    space, fixed = load_space_file(path)
    assert space == SearchSpace([Range("lr", 1e-4, 0.1, log=True),
                                 Choice("batch_size", (32, 64)),
                                 Range("width", 0.5, 2.0, log=True)])
    assert fixed == {"optimizer": "adam", "epochs": 3}


def test_json_file_is_read_the_same_way(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"params": {"momentum": {"low": 0.5, "high": 0.99},
                                           "optimizer": ["sgd", "rmsprop"]}}))
    space, fixed = load_space_file(path)
    assert space.names == ["momentum", "optimizer"]
    assert space.params[0] == Range("momentum", 0.5, 0.99)
    assert fixed == {}


@pytest.mark.parametrize(("name", "text", "message"), [
    ("space.yaml", "params: {}", "expected a .toml or .json file"),
    ("space.toml", "[params\n", "not valid TOML"),
    ("space.json", "{", "not valid JSON"),
    ("space.toml", "[search]\nlr = '1:2'\n", "expected only the tables 'params' and 'fixed'"),
    ("space.toml", "[params]\nlr = { low = 1e-3 }\n", "a range table needs 'low' and 'high'"),
    ("space.toml", "[params]\nlr = 0.1\n", "expected a string spec, a list of choices"),
    ("space.json", '{"params": {"batch_size": [32.5]}}', "integer setting, got 32.5"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        load_space_file(path)
    assert str(path) in str(error.value) and message in str(error.value), str(error.value)


def test_integral_floats_from_json_become_ints_for_integer_settings(tmp_path):
    path = tmp_path / "space.json"
    path.write_text('{"params": {"batch_size": {"low": 16.0, "high": 64}}}')
    (param,) = load_space_file(path)[0].params
    assert param == Range("batch_size", 16, 64)
    assert type(param.low) is int and type(param.high) is int
