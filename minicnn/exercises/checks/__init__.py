"""One module per exercise: its reference solution, cases, PyTorch twin and known mistakes.

Each module defines an :class:`~minicnn.exercises.exercise.Exercise` subclass and the
reference functions, with the learner's signatures, written with :mod:`minicnn.functional`.
"""
