"""Learning-rate schedulers against torch.optim.lr_scheduler: the same lr sequences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from minicnn import optim
from minicnn.nn.parameter import Parameter
from minicnn.optim import lr_scheduler

GROUP_LRS = (0.1, 0.03)  # two parameter groups with different learning rates
SHAPES = ((3,), (2, 2))


class Pair:
    """The same optimiser and scheduler built in both libraries, stepped together.

    Each step gives every parameter the same random gradient, runs ``optimizer.step()``
    then ``scheduler.step(*args)``, and records what each scheduler reports.
    """

    def __init__(self, optimizer_name: str, optimizer_options: dict, scheduler_name: str,
                 scheduler_options: dict, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        initial = [self.rng.standard_normal(shape) for shape in SHAPES]
        self.params = [Parameter(x.copy()) for x in initial]
        self.tensors = [torch.tensor(x.copy(), requires_grad=True) for x in initial]
        self.optimizer_name, self.optimizer_options = optimizer_name, optimizer_options
        self.ours_optimizer = self._optimizer(getattr(optim, optimizer_name), self.params)
        self.theirs_optimizer = self._optimizer(getattr(torch.optim, optimizer_name),
                                                self.tensors)
        self.ours = getattr(lr_scheduler, scheduler_name)(self.ours_optimizer,
                                                          **scheduler_options)
        self.theirs = getattr(torch.optim.lr_scheduler, scheduler_name)(
            self.theirs_optimizer, **scheduler_options
        )

    def _optimizer(self, cls, params):
        groups = [{"params": [p], "lr": lr} for p, lr in zip(params, GROUP_LRS)]
        return cls(groups, **self.optimizer_options)

    def step(self, *scheduler_args) -> None:
        for param, tensor in zip(self.params, self.tensors):
            grad = self.rng.standard_normal(param.shape)
            param.grad, tensor.grad = grad.copy(), torch.from_numpy(grad.copy())
        self.ours_optimizer.step()
        self.theirs_optimizer.step()
        self.ours.step(*scheduler_args)
        self.theirs.step(*scheduler_args)

    def assert_same_lrs(self, when: str) -> None:
        # minicnn does torch's float arithmetic in torch's order: equal to the last bit.
        ours, theirs = self.ours.get_last_lr(), self.theirs.get_last_lr()
        assert ours == theirs, f"{when}: learning rates {ours}, torch's {theirs}"
        our_lrs = [group["lr"] for group in self.ours_optimizer.param_groups]
        their_lrs = [group["lr"] for group in self.theirs_optimizer.param_groups]
        assert our_lrs == their_lrs, f"{when}: group lrs {our_lrs}, torch's {their_lrs}"

    def assert_same_momenta(self, when: str) -> None:
        key = "betas" if "betas" in self.ours_optimizer.defaults else "momentum"
        for our_group, their_group in zip(self.ours_optimizer.param_groups,
                                          self.theirs_optimizer.param_groups):
            ours, theirs = np.ravel(our_group[key]), np.ravel(their_group[key])
            np.testing.assert_allclose(ours, theirs, rtol=1e-13, err_msg=f"{when}: {key}")

    def assert_same_parameters(self) -> None:
        for param, tensor in zip(self.params, self.tensors):
            np.testing.assert_allclose(param.data, tensor.detach().numpy(), rtol=1e-10,
                                       atol=1e-12)

    def run(self, steps: int, metrics=None) -> None:
        self.assert_same_lrs("after construction")
        for step in range(steps):
            self.step() if metrics is None else self.step(metrics[step])
            self.assert_same_lrs(f"after step {step + 1}")
        self.assert_same_parameters()


# --------------------------------------------------------------------------- sequences
@settings(max_examples=30, deadline=None)
@given(step_size=st.integers(1, 15), gamma=st.floats(0.05, 0.99))
def test_step_lr_matches_torch(step_size, gamma):
    Pair("SGD", {"momentum": 0.9}, "StepLR", {"step_size": step_size, "gamma": gamma}).run(60)


@settings(max_examples=30, deadline=None)
@given(milestones=st.lists(st.integers(1, 60), max_size=6).map(sorted),
       gamma=st.floats(0.05, 0.99))
def test_multi_step_lr_matches_torch_even_with_repeated_milestones(milestones, gamma):
    Pair("SGD", {}, "MultiStepLR", {"milestones": milestones, "gamma": gamma}).run(60)


@settings(max_examples=25, deadline=None)
@given(gamma=st.floats(0.8, 1.0))
def test_exponential_lr_matches_torch(gamma):
    Pair("Adam", {}, "ExponentialLR", {"gamma": gamma}).run(60)


@settings(max_examples=30, deadline=None)
@given(T_max=st.integers(1, 40), eta_min=st.one_of(st.just(0.0), st.floats(1e-5, 1e-2)))
def test_cosine_annealing_lr_matches_torch_past_t_max(T_max, eta_min):
    # 60 steps with T_max <= 40 cross the bottom of the cosine, where torch's recursion
    # takes its special branch, and climb back up.
    options = {"T_max": T_max, "eta_min": eta_min}
    Pair("SGD", {"momentum": 0.5}, "CosineAnnealingLR", options).run(60)


@st.composite
def one_cycle_setup(draw) -> tuple[str, dict, dict]:
    optimizer_name, optimizer_options = draw(st.sampled_from([
        ("SGD", {"momentum": 0.9}),
        ("SGD", {"momentum": 0.9, "nesterov": True}),
        ("Adam", {}),
        ("AdamW", {"amsgrad": True}),
        ("RMSprop", {"momentum": 0.5}),
    ]))
    total_steps = draw(st.integers(10, 80))
    pct_start = draw(st.floats(0.05, 0.9))
    three_phase = draw(st.booleans())
    # pct_start * total_steps == 1 makes a phase of zero length: torch divides by zero.
    assume(abs(pct_start * total_steps - 1) > 1e-9)
    options = {
        "max_lr": draw(st.one_of(st.floats(0.01, 1.0),
                                 st.lists(st.floats(0.01, 1.0), min_size=2, max_size=2))),
        "total_steps": total_steps,
        "pct_start": pct_start,
        "anneal_strategy": draw(st.sampled_from(["cos", "linear"])),
        "cycle_momentum": draw(st.booleans()),
        "base_momentum": draw(st.floats(0.5, 0.85)),
        "max_momentum": draw(st.floats(0.86, 0.99)),
        "div_factor": draw(st.floats(2.0, 50.0)),
        "final_div_factor": draw(st.floats(10.0, 1e4)),
        "three_phase": three_phase,
    }
    return optimizer_name, optimizer_options, options


@settings(max_examples=40, deadline=None)
@given(setup=one_cycle_setup())
def test_one_cycle_lr_matches_torch_and_cycles_momentum(setup):
    optimizer_name, optimizer_options, options = setup
    pair = Pair(optimizer_name, optimizer_options, "OneCycleLR", options)
    pair.assert_same_lrs("after construction")
    pair.assert_same_momenta("after construction")
    for step in range(options["total_steps"] - 1):
        pair.step()
        pair.assert_same_lrs(f"after step {step + 1}")
        pair.assert_same_momenta(f"after step {step + 1}")
    # The optimiser really trains with the cycled momentum / beta1.
    pair.assert_same_parameters()


def test_one_cycle_lr_defaults_match_torch():
    pair = Pair("SGD", {"momentum": 0.9}, "OneCycleLR", {"max_lr": 0.5, "total_steps": 100})
    pair.run(99)
    group = pair.ours_optimizer.param_groups[0]
    assert group["initial_lr"] == 0.5 / 25 and group["min_lr"] == 0.5 / 25 / 1e4
    assert (group["max_momentum"], group["base_momentum"]) == (0.95, 0.85)


def test_one_cycle_lr_refuses_to_step_past_total_steps():
    pair = Pair("SGD", {}, "OneCycleLR", {"max_lr": 0.1, "total_steps": 5,
                                          "cycle_momentum": False})
    for _ in range(5):
        pair.step()
    with pytest.raises(ValueError, match=r"tried to step 6 times.*total_steps=5"):
        pair.ours.step()


def test_one_cycle_lr_total_steps_from_epochs_and_steps_per_epoch():
    pair = Pair("Adam", {}, "OneCycleLR", {"max_lr": 0.1, "epochs": 3, "steps_per_epoch": 7})
    assert pair.ours.total_steps == 21
    pair.run(20)


@st.composite
def plateau_setup(draw) -> tuple[dict, list[float]]:
    options = {
        "mode": draw(st.sampled_from(["min", "max"])),
        "factor": draw(st.floats(0.1, 0.9)),
        "patience": draw(st.integers(0, 5)),
        "threshold": draw(st.floats(0.0, 0.1)),
        "threshold_mode": draw(st.sampled_from(["rel", "abs"])),
        "cooldown": draw(st.integers(0, 3)),
        "min_lr": draw(st.one_of(st.just(0), st.floats(1e-4, 1e-2),
                                 st.lists(st.floats(1e-5, 1e-2), min_size=2, max_size=2))),
        "eps": draw(st.sampled_from([1e-8, 1e-3])),
    }
    # Plateaus are what the scheduler reacts to: draw metrics from a few levels.
    levels = draw(st.lists(st.sampled_from([1.0, 0.9, 0.5, 0.45, 0.2]), min_size=60,
                           max_size=60))
    return options, levels


@settings(max_examples=40, deadline=None)
@given(setup=plateau_setup())
def test_reduce_lr_on_plateau_matches_torch(setup):
    options, metrics = setup
    pair = Pair("SGD", {"momentum": 0.9}, "ReduceLROnPlateau", options)
    pair.run(60, metrics=metrics)
    for attribute in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
        assert getattr(pair.ours, attribute) == getattr(pair.theirs, attribute), attribute


def test_reduce_lr_on_plateau_reduces_after_patience_bad_epochs():
    param = Parameter(np.zeros(1))
    optimizer = optim.SGD([param], lr=1.0)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=2, factor=0.5)
    lrs = []
    for metric in [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]:
        scheduler.step(np.float64(metric))
        lrs.append(scheduler.get_last_lr()[0])
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]


# --------------------------------------------------------------------------- resuming
SCHEDULERS = {
    "StepLR": {"step_size": 7, "gamma": 0.5},
    "MultiStepLR": {"milestones": [5, 25, 25, 40], "gamma": 0.5},
    "ExponentialLR": {"gamma": 0.95},
    "CosineAnnealingLR": {"T_max": 15, "eta_min": 1e-4},
    "OneCycleLR": {"max_lr": 0.5, "total_steps": 60},
}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_resuming_from_state_dicts_gives_the_uninterrupted_run(name):
    options = SCHEDULERS[name]

    def build(params):
        optimizer = optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.2}],
                              lr=0.1, momentum=0.9)
        return optimizer, getattr(lr_scheduler, name)(optimizer, **options)

    def train(optimizer, scheduler, params, grads):
        lrs = []
        for step_grads in grads:
            for param, grad in zip(params, step_grads):
                param.grad = grad.copy()
            optimizer.step()
            scheduler.step()
            lrs.append(scheduler.get_last_lr())
        return lrs

    rng = np.random.default_rng(0)
    initial = [rng.standard_normal(shape) for shape in SHAPES]
    grads = [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(50)]

    uninterrupted = [Parameter(x.copy()) for x in initial]
    expected_lrs = train(*build(uninterrupted), uninterrupted, grads)

    params = [Parameter(x.copy()) for x in initial]
    optimizer, scheduler = build(params)
    lrs = train(optimizer, scheduler, params, grads[:20])
    saved_optimizer, saved_scheduler = optimizer.state_dict(), scheduler.state_dict()
    resumed = [Parameter(p.data.copy()) for p in params]
    optimizer, scheduler = build(resumed)  # scheduler first, then load, as in torch
    optimizer.load_state_dict(saved_optimizer)
    scheduler.load_state_dict(saved_scheduler)
    lrs += train(optimizer, scheduler, resumed, grads[20:])

    assert lrs == expected_lrs, "the resumed run's learning rates differ"
    for a, b in zip(resumed, uninterrupted):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_last_epoch_resume_matches_torch(name):
    # Constructing with last_epoch=k on groups that hold 'initial_lr' (after a first
    # scheduler), PyTorch's way to resume without a scheduler state dict.
    options = SCHEDULERS[name]
    pair = Pair("SGD", {"momentum": 0.9}, name, options)
    for _ in range(12):
        pair.step()
    pair.ours = getattr(lr_scheduler, name)(pair.ours_optimizer, last_epoch=12, **options)
    pair.theirs = getattr(torch.optim.lr_scheduler, name)(pair.theirs_optimizer, last_epoch=12,
                                                          **options)
    assert pair.ours.last_epoch == pair.theirs.last_epoch == 13
    pair.run(30)


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR",
                                  "CosineAnnealingLR"])
def test_explicit_epoch_uses_torchs_closed_form(name):
    pair = Pair("SGD", {}, name, SCHEDULERS[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in [3, 4, 10, 17, 9, 30, 31, 45]:
            pair.ours_optimizer.step()
            pair.theirs_optimizer.step()
            pair.ours.step(epoch)
            pair.theirs.step(epoch)
            pair.assert_same_lrs(f"at explicit epoch {epoch}")
    with pytest.warns(UserWarning, match="deprecated"):
        pair.ours.step(50)


def test_scheduler_state_dicts_hold_plain_values():
    param = Parameter(np.zeros(1))
    for name, options in SCHEDULERS.items():
        optimizer = optim.SGD([param], lr=0.1, momentum=0.9)
        state = getattr(lr_scheduler, name)(optimizer, **options).state_dict()
        assert "optimizer" not in state
        assert state["last_epoch"] == 0 and state["base_lrs"] == [optimizer.param_groups[0]
                                                                  ["initial_lr"]]
    optimizer = optim.SGD([param], lr=0.1)
    state = lr_scheduler.ReduceLROnPlateau(optimizer).state_dict()
    assert state["best"] == float("inf") and "optimizer" not in state


# --------------------------------------------------------------------------- misuse
def test_stepping_the_scheduler_before_the_optimizer_warns():
    optimizer = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=1)
    with pytest.warns(UserWarning, match=r"before optimizer\.step\(\)"):
        scheduler.step()


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
        (lambda o: lr_scheduler.ExponentialLR(object(), gamma=0.9), TypeError, "Optimizer"),
        (lambda o: lr_scheduler.StepLR(o, step_size=2, last_epoch=5), ValueError,
         "initial_lr"),
        (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1), ValueError, "total_steps"),
        (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=0), ValueError,
         "total_steps"),
        (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=9, pct_start=1.5),
         ValueError, "pct_start"),
        (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=9,
                                           anneal_strategy="exp"), ValueError, "anneal"),
        (lambda o: lr_scheduler.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=9), ValueError,
         "one value per parameter group"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="lowest"), ValueError, "mode"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError,
         "threshold_mode"),
    ],
)
def test_invalid_scheduler_arguments_raise_sentences(make, error, message):
    optimizer = optim.SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    with pytest.raises(error, match=message):
        make(optimizer)


def test_one_cycle_momentum_needs_an_optimizer_with_momentum():
    class Plain(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

    with pytest.raises(ValueError, match="cycle_momentum=False"):
        lr_scheduler.OneCycleLR(Plain([Parameter(np.zeros(1))]), max_lr=0.1, total_steps=5)
