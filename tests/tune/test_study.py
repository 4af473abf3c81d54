"""minicnn.tune.study and runner: creating, joining, stopping and resuming a study.

The studies are tiny real ones (a few hundred MNIST images, one epoch a trial) on SQLite in
a temporary folder, run through ``minicnn.tune.tune``, the Python API.
"""

from __future__ import annotations

import shutil

import optuna
import pytest

from minicnn.tune import SearchSpace, tune
from minicnn.tune.storage import default_storage_url
from minicnn.tune.study import StudyOptions, make_pruner, prepare_study, run_worker
from tests.helpers.training import TINY_FIXED

SPACE = SearchSpace.parse(["lr=1e-3:0.1:log", "batch_size=32,64"])


def tiny_tune(tmp_path, mnist_dir, **options):
    values = dict(n_trials=2, study_dir=tmp_path / "study", data_dir=str(mnist_dir),
                  startup_trials=1, progress=False, plots=False)
    values.update(options)
    return tune(options.pop("space", SPACE), options.pop("fixed", TINY_FIXED),
                **{key: value for key, value in values.items() if key not in ("space", "fixed")})


@pytest.fixture(scope="module")
def one_trial_study(tmp_path_factory, mnist_dir):
    """A study of one finished trial, in ``<folder>/study``; copy it before adding trials."""
    folder = tmp_path_factory.mktemp("one-trial")
    tiny_tune(folder, mnist_dir, n_trials=1)
    return folder


def options_of(folder, **overrides) -> StudyOptions:
    values = dict(name="lenet5-mnist", storage=default_storage_url(folder / "study"),
                  study_dir=str(folder / "study"), n_trials=1)
    return StudyOptions(**{**values, **overrides})


def test_a_study_stopped_after_k_trials_resumes_to_n(mnist_dir, tmp_path, capsys,
                                                     one_trial_study):
    first = tiny_tune(tmp_path, mnist_dir, n_trials=2)
    assert first.counts == {"COMPLETE": 2}
    kept = [(t.number, t.params, t.value) for t in first.study.trials]
    # The same call gives the same trials: the one-trial study began as this one.
    (reference,) = optuna.load_study(study_name="lenet5-mnist", storage=default_storage_url(
        one_trial_study / "study")).trials
    assert (reference.params, reference.value) == kept[0][1:]
    capsys.readouterr()

    second = tiny_tune(tmp_path, mnist_dir, n_trials=4)
    trials = second.study.trials
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    # The first two trials are the stored ones, not run again ...
    assert [(t.number, t.params, t.value) for t in trials[:2]] == kept
    printed = capsys.readouterr().out
    assert "trial 2 complete" in printed and "trial 3 complete" in printed
    assert "trial 0 complete" not in printed
    # ... and the resumed sampler does not draw the first trials' parameters again.
    assert trials[2].params != trials[0].params
    assert len(list((tmp_path / "study" / "trials").iterdir())) == 4
    assert second.best_accuracy == max(t.value for t in trials)

    # A study that has its trials runs none.
    again = tiny_tune(tmp_path, mnist_dir, n_trials=4)
    assert len(again.study.trials) == 4


def test_joining_a_study_uses_its_space_and_settings(mnist_dir, one_trial_study):
    options = options_of(one_trial_study, local={"data_dir": str(mnist_dir)})
    _, space, base = prepare_study(options)  # no space, no settings: the stored ones
    assert space == SPACE
    assert (base.epochs, base.limit_train, base.optimizer) == (1, 400, "adam")
    assert base.data_dir == str(mnist_dir)
    assert base.out_dir == str(one_trial_study / "study" / "trials")
    # Given settings that agree are accepted.
    prepare_study(options, SPACE, {"epochs": 1, "optimizer": "adam"})


@pytest.mark.parametrize(("space", "fixed", "message"), [
    (SearchSpace.parse(["lr=1e-3:0.2:log"]), None,
     "searches SearchSpace(lr=0.001:0.1:log, batch_size=32,64), not "
     "SearchSpace(lr=0.001:0.2:log): choose another study name"),
    (None, {"epochs": 3}, "trains with epochs=1 (asked: 3): choose another study name"),
])
def test_joining_with_another_space_or_settings_is_refused(one_trial_study, space, fixed,
                                                           message):
    with pytest.raises(ValueError) as error:
        prepare_study(options_of(one_trial_study), space, fixed)
    assert message in str(error.value), str(error.value)


@pytest.mark.parametrize(("space", "fixed", "message"), [
    (None, None, "study 'new' does not exist yet: give a search space"),
    (SPACE, {"lr": 0.1}, "['lr'] both tuned and fixed: remove one"),
    (SPACE, {"data_dir": "/data"}, "['data_dir'] belong to a machine, not to a study"),
    (SPACE, {"depth": 3}, "TrainConfig: unknown settings ['depth']"),
])
def test_a_new_study_needs_a_space_and_valid_settings(tmp_path, space, fixed, message):
    options = StudyOptions(name="new", storage=default_storage_url(tmp_path),
                           study_dir=str(tmp_path), n_trials=1)
    with pytest.raises(ValueError) as error:
        prepare_study(options, space, fixed)
    assert message in str(error.value), str(error.value)


def test_a_new_study_trains_two_epochs_unless_told(tmp_path):
    options = StudyOptions(name="new", storage=default_storage_url(tmp_path),
                           study_dir=str(tmp_path), n_trials=1)
    _, _, base = prepare_study(options, SPACE, {"limit_train": 100})
    assert base.epochs == 2 and base.limit_train == 100 and base.lr == 0.05


def test_study_options_check_their_values(tmp_path):
    def options(**overrides):
        values = dict(name="s", storage="sqlite://", study_dir=str(tmp_path), n_trials=1)
        return StudyOptions(**{**values, **overrides})

    with pytest.raises(ValueError, match="pruner must be one of"):
        options(pruner="hyperband")
    with pytest.raises(ValueError, match="sampler must be one of"):
        options(sampler="grid")
    with pytest.raises(ValueError, match="n_trials must be positive, got 0"):
        options(n_trials=0)
    with pytest.raises(ValueError, match=r"local settings are data_dir and threads, got \['out"):
        options(local={"out_dir": "x"})


def test_run_worker_returns_the_trials_it_ran(mnist_dir, tmp_path, one_trial_study):
    shutil.copytree(one_trial_study / "study", tmp_path / "study")
    options = options_of(tmp_path, n_trials=3, local={"data_dir": str(mnist_dir)},
                         startup_trials=1)
    finished = []
    ran = run_worker(options, on_trial=lambda study, trial: finished.append(trial.number))
    assert ran == [1, 2] and finished == [1, 2]


def test_pruners_by_name(tmp_path):
    def pruner(name, epochs):
        return make_pruner(options_of(tmp_path, pruner=name, startup_trials=3), epochs)

    median = pruner("median", 3)
    assert isinstance(median, optuna.pruners.MedianPruner)
    assert median._n_startup_trials == 3
    assert isinstance(pruner("halving", 3), optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(pruner("none", 3), optuna.pruners.NopPruner)
    # With one epoch there is nothing to prune at: the last epoch is never pruned.
    assert isinstance(pruner("median", 1), optuna.pruners.NopPruner)
