"""More step-8 function constructs (beside those of tests/s8_constructs.py): *args and **kwargs in every
position, calls that unpack, partials, callable objects, methods, super(), nested functions, lambdas and
recursion. Each is a small function of one array (or of the arguments named in the test)."""

import functools

import numpy as np

from tests.s8_constructs import A3, Quadratic, star_args_helper


# --- *args and **kwargs ------------------------------------------------------------------------------

def mixed_signature(a, b, *rest, scale=1.0, **options):
    out = a * b * scale
    for r in rest:
        out = out + np.sin(r)
    return out * options["weight"]


def calls_mixed_signature(x):
    return np.sum(mixed_signature(x, 2.0, x ** 2, np.cos(x), scale=1.5, weight=x))


def calls_mixed_signature_short(x):
    return np.sum(mixed_signature(x, np.sin(x), weight=2.0))  # no *rest at all


def star_args_sum(*parts):
    total = 0.0
    for p in parts:
        total = total + np.sum(p ** 2)
    return total


def keyword_helper(x, **options):
    return np.sum(x * options["scale"] + options["shift"])


def unpacks_in_calls(x):
    parts = (x, np.sin(x))
    opts = {"scale": x[0], "shift": np.cos(x)}
    return star_args_sum(*parts) + keyword_helper(x, **opts) + np.sum(np.add(*parts))


def unpacks_a_list_and_plain_arguments(x):
    rows = [np.sin(x), x * x[0]]
    return star_args_sum(x, *rows, 2.0 * x)


def star_args_with_keywords_only(*xs, power=2.0):
    return np.sum(xs[0] ** power) + np.sum(xs[-1])


def passes_through_star_args(x):
    def forward(*args, **kwargs):
        return star_args_with_keywords_only(*args, **kwargs)
    return forward(x, np.exp(x), power=3.0)


def unpacks_an_array_into_arguments(x):
    m = np.outer(x, x)
    return np.sum(star_args_helper(*m[:2]))


# --- partials, callable objects, methods ----------------------------------------------------------

def scaled_shift(x, s, shift=0.0):
    return np.sum(np.sin(x) * s) + shift


PARTIAL_POSITIONAL = functools.partial(scaled_shift, s=3.0)
PARTIAL_OF_PARTIAL = functools.partial(PARTIAL_POSITIONAL, shift=0.5)


def calls_partials(x):
    return PARTIAL_POSITIONAL(x) + PARTIAL_OF_PARTIAL(x, s=2.0) + PARTIAL_OF_PARTIAL(x * 2.0)


class Scaled(Quadratic):
    """A subclass with a property, a staticmethod, a classmethod and super()."""

    factor = 2.0

    @property
    def doubled(self):
        return self.a * self.factor

    @staticmethod
    def square(v):
        return v * v

    @classmethod
    def make(cls, a):
        return cls(a)

    def __call__(self, x):
        return super().__call__(x) * 0.5 + np.sum(self.square(x)) + np.sum(x @ self.doubled @ x)


SCALED = Scaled(A3)


def calls_methods(x):
    other = Scaled.make(A3 * 0.5)
    return SCALED(x) + other(np.sin(x)) + np.sum(Scaled.square(x)) + SCALED.energy(x)


def energy(self, x):
    return np.sum(np.cos(x) * np.diag(self.a))


Scaled.energy = energy
