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
    return forward(np.exp(x), x, power=3.0)


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


# --- nested functions, lambdas, recursion ----------------------------------------------------------

def nested_def_with_a_loop(x):
    w = np.cos(x)
    scale = 0.5

    def rollout(v, steps):
        state = v
        for k in range(steps):
            state = np.tanh(state * w + scale * k)
            if k % 2 == 1:
                state = state * 1.5
        return np.sum(state ** 2)

    first = rollout(x, 3)
    w = w * 2.0  # rebinding after the first call: the second call reads the new value, as Python does
    return first + rollout(x[::-1], 2)


def defined_before_its_capture(x):
    def shifted(v):
        total = v + offset
        return total * total

    offset = np.sin(x)
    return np.sum(shifted(x))


def closure_in_a_loop(x):
    total = 0.0
    for k in range(3):
        factor = x * (k + 1)

        def term(v):
            y = np.sin(v * factor)
            return np.sum(y)

        total = total + term(x)
    return total


def apply_to_each(f, xs):
    first, second = xs
    return f(first), f(second)


def passes_a_lambda_and_a_nested_function(x):
    def cube(v):
        c = v * v
        return c * v

    squares = apply_to_each(lambda t: t * t, [x[0], x[1]])
    cubes = apply_to_each(cube, [x[2], x[0]])
    return squares[0] + squares[1] * cubes[0] + cubes[1]


def passes_a_closure_of_constants(x):
    power = 3.0

    def raised(v):
        return np.sum(np.abs(v) ** power)

    return apply_to_each(raised, [x, np.sin(x)])[1]


def map_of_a_nested_function_and_two_lists(x):
    w = np.exp(x)

    def weighted(a, b):
        return a * b + np.sin(a)

    return sum(map(weighted, [x[0], x[1], x[2]], [w[2], w[1], w[0]]))


def sorted_by_a_key_that_reads_a_differentiated_value(x):
    w = np.array([3.0, 1.0, 2.0]) * x[0] ** 2
    rows = [x * 1.0, x * 2.0, np.sin(x)]
    ordered = sorted(rows, key=lambda r: np.sum(r * w), reverse=True)
    return np.sum(ordered[0] * 3.0 + ordered[1] * 2.0 + ordered[2])


def list_of_map_and_sorted_plain(x):
    values = list(map(lambda t: np.exp(t), [x[0], x[1], x[2]]))
    ordered = sorted([values[0], values[1], values[2]])
    return ordered[0] * 3.0 + ordered[1] * 2.0 + ordered[2]


def lambda_called_at_once_and_with_defaults(x):
    def scaled(v, s=2.0, *, shift=0.5):
        out = v * s
        return out + shift

    return np.sum((lambda t: t * t)(x)) + np.sum(scaled(x)) + np.sum(scaled(x, 3.0, shift=1.0))


def nested_function_with_star_args(x):
    def total(*parts, **weights):
        acc = 0.0
        for p in parts:
            acc = acc + np.sum(p) * weights["w"]
        return acc

    return total(x, np.sin(x), w=x[0])


def power_tower(x, n):
    if n == 0:
        return x
    return np.sin(power_tower(x, n - 1)) * 1.5


def recursion_to_a_run_time_depth(x):
    depth = 3
    return np.sum(power_tower(x, depth))


def nested_recursion(x):
    def down(v, n):
        if n == 0:
            return v
        return down(v * 0.5, n - 1)

    return np.sum(down(x, 2))


def passes_a_closure_of_a_differentiated_value(x):
    w = np.sin(x)

    def scaled(v):
        return np.sum(v * w)

    return apply_to_each(scaled, [x, x])[0]


def class_inside(x):
    class Local:
        def __init__(self, a):
            self.a = a

    return np.sum(Local(2.0).a * x)
