"""Functions that define classes inside themselves (tests/test_local_classes.py)."""

import dataclasses

import numpy as np


class ModuleBase:
    """A module-level base class for a class defined inside a function."""

    offset = 0.5

    def __init__(self, a):
        self.a = a

    def shifted(self, v):
        return v * self.a + self.offset


def closure_layer(w, x):
    class Layer:
        def __init__(self, scale): self.scale = scale
        def __call__(self, v): return np.tanh(self.scale * w * v)
    layer = Layer(2.0)
    return np.sum(layer(x) ** 2)


def local_dataclass(w, x):
    @dataclasses.dataclass
    class Params:
        a: np.ndarray
        b: float = 1.5

        def predict(self, v):
            return self.a * v + self.b

    p = Params(np.sin(w))
    q = Params(w * x, 0.25)
    return np.sum(p.predict(x) ** 2) + np.sum(q.predict(w)) + np.sum(p.a * q.b)


def rollout_of(w, x):
    class Rollout:
        def __init__(self, steps):
            self.steps = steps

        def run(self, v):
            state = v
            for k in range(self.steps):
                state = np.tanh(state * w + 0.1 * k)
                if k % 2 == 1:
                    state = state * 1.5
            total = np.sum(state ** 2)
            return total

    r = Rollout(3)
    return r.run(x)


def with_property(w, x):
    class Circle:
        factor = 2.0

        def __init__(self, r):
            self.r = r

        @property
        def area(self):
            return self.factor * np.pi * self.r ** 2

        @staticmethod
        def square(v):
            return v * v

        @classmethod
        def scale(cls):
            return cls.factor * 3.0

    c = Circle(w * x)
    return np.sum(c.area) + np.sum(Circle.square(w)) + np.sum(c.square(x)) * c.scale()


def holds_an_array(w, x):
    class Holder:
        def __init__(self):
            self.h = w * x

        def total(self):
            return np.sum(self.h)

        def grow(self, v):
            self.h = self.h * v
            self.count = 1.0

    o = Holder()
    first = o.total()
    o.grow(np.cos(w))
    o.h = o.h + x
    o.h += 1.0
    return first + o.total() + np.sum(o.h ** 2) * o.count


def inherits_a_module_class(w, x):
    class Child(ModuleBase):
        def __init__(self, a, b):
            super().__init__(a)
            self.b = b

        def value(self, v):
            return np.sum(self.shifted(v) * self.b)

    c = Child(np.exp(w), x)
    return c.value(w) + np.sum(c.a)


def inherits_a_local_class(w, x):
    class Base:
        def __init__(self, a):
            self.a = a

        def energy(self, v):
            return np.sum(self.weight(v) * self.a)

        def weight(self, v):
            return v

    class Squared(Base):
        def weight(self, v):
            return super().weight(v) ** 2 * w

    s = Squared(x)
    return s.energy(w)


def class_in_a_loop(w, x):
    total = 0.0
    for k in range(3):
        class Step:
            def __init__(self, gain):
                self.gain = gain

            def __call__(self, v):
                return np.sin(v * self.gain * w)

        step = Step(1.0 + k)
        x = x + step(x)
        total = total + np.sum(x)
    return total


def calls_a_helper_with_a_class(w, x):
    return helper_with_a_class(w * 2.0, x) + np.sum(w)


def helper_with_a_class(w, x):
    class Affine:
        def __init__(self, a):
            self.a = a

        def __call__(self, v):
            return np.sum(np.tanh(self.a * v + w))

    f = Affine(x)
    return f(w)


def state_between_calls(w, x):
    class Accumulator:
        def __init__(self):
            self.total = 0.0

        def add(self, v):
            self.total = self.total + np.sum(v * w)
            return self.total

    acc = Accumulator()
    first = acc.add(x)
    acc.add(x ** 2)
    return first * acc.total


# --- refused ---------------------------------------------------------------------------------------

class Meta(type):
    pass


def with_a_metaclass(w, x):
    class Odd(metaclass=Meta):
        pass
    return np.sum(w * x)


def class_level_state(w, x):
    class Counter:
        calls = 0.0

        def bump(self):
            Counter.calls = Counter.calls + 1.0

    c = Counter()
    c.bump()
    return np.sum(w * x)


def class_level_list(w, x):
    class Cache:
        seen = []

    return np.sum(w * x)


def instance_escapes(w, x):
    class Box:
        def __init__(self, v):
            self.v = v

    b = Box(w)
    return helper_reads_box(b, x)


def helper_reads_box(b, x):
    return np.sum(b.v * x)


def instance_aliased(w, x):
    class Box:
        def __init__(self, v):
            self.v = v

    b = Box(w)
    c = b
    c.v = x
    return np.sum(b.v)


def recursive_method(w, x):
    class Tree:
        def depth(self, v, n):
            return v if n == 0 else self.depth(v * w, n - 1)

    t = Tree()
    return np.sum(t.depth(x, 2))


def mutating_call_in_an_expression(w, x):
    class Acc:
        def __init__(self):
            self.t = 0.0

        def add(self, v):
            self.t = self.t + v
            return self.t

    a = Acc()
    return np.sum(a.add(w) * x)


def writes_a_frozen_dataclass(w, x):
    @dataclasses.dataclass(frozen=True)
    class Point:
        a: np.ndarray

        def move(self, v):
            self.a = self.a + v

    p = Point(w)
    p.move(x)
    return np.sum(p.a)


def frozen_dataclass(w, x):
    @dataclasses.dataclass(frozen=True)
    class Point:
        a: np.ndarray
        b: float = 2.0

        def norm2(self):
            return np.sum(self.a ** 2) * self.b

    p = Point(w * x)
    return p.norm2() + np.sum(p.a)


def made_inside_expressions(w, x):
    class Affine:
        def __init__(self, a):
            self.a = a

        def __call__(self, v):
            return np.sin(self.a * v)

    class Scale:
        def __call__(self, v):
            return 2.0 * v * w

    return np.sum(Affine(w)(x) ** 2) + np.sum(Scale()(x)) + np.sum(Affine(x).a * w)


def made_under_a_condition(w, x):
    class Scale:
        def __call__(self, v):
            return 2.0 * v * w

    return np.sum(Scale()(x) if np.sum(x) > 0 else x)


# Special methods the lowering does not follow: refused at their line.

def with_setattr(w, x):
    class Doubling:
        def __setattr__(self, name, value):
            object.__setattr__(self, name, value * 2.0)
    d = Doubling()
    d.v = w * x
    return np.sum(d.v)


def with_new(w, x):
    class Made:
        def __new__(cls, a):
            made = object.__new__(cls)
            made.a = a * 2.0
            return made

        def __init__(self, a):
            pass
    return np.sum(Made(w).a * x)


def with_slots(w, x):
    class Slotted:
        __slots__ = ("a",)

        def __init__(self, a):
            self.a = a
    s = Slotted(w * x)
    return np.sum(s.a)


class SetattrBase:
    def __setattr__(self, name, value):
        object.__setattr__(self, name, value * 3.0)


def with_a_setattr_base(w, x):
    class Child(SetattrBase):
        def __init__(self, a):
            self.a = a
    c = Child(w)
    return np.sum(c.a * x)


def with_repr(w, x):
    class Shown:
        def __init__(self, a):
            self.a = a

        def __repr__(self):
            return "Shown"
    s = Shown(w)
    return np.sum(s.a * x)
