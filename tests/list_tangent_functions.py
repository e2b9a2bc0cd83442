"""Functions that build lists in loops (append, extend) or return lists and dicts: the cases of
tests/test_list_tangents.py. In a file of their own, so the compiler reads their source."""

import numpy as np


def appended(x):
    ys = []
    for i in range(len(x) - 1):
        ys.append(np.sin(x[i]) * x[i + 1])
    return np.array(ys)


def extended(x):
    ys = []
    for i in range(len(x) - 1):
        ys.extend([np.sin(x[i]) * x[i + 1], x[i] ** 2])
    return np.array(ys)


def extended_by_tuple(x):
    ys = [x[0]]
    for i in range(1, len(x)):
        ys += (np.exp(x[i] * ys[-1]),)
    return np.stack(ys)


def copied_list(x):
    ys = [x[0], x[1] * x[2]]
    zs = ys.copy()
    zs.append(np.tanh(x[2]))
    return np.array(zs) * ys[1]


def returns_list(x):
    ys = []
    for i in range(len(x) - 1):
        ys.append(np.sin(x[i]) * x[i + 1])
    return ys


def returns_nested(p, x):
    return {"a": [p["w"] * x, np.sin(x)], "b": p["w"].sum() * x[0]}


def returns_list_with_aux(x):
    return [x * 2.0, np.cos(x) * x[0]], "aux"


def returns_tuple_of_lists(x):
    return ([x[0] * x[1]], np.exp(x))


def _pair_as_list(x):
    return [x[0] * 2.0, np.sin(x[1])]


def _fields_as_dict(x):
    return {"b": x[0] * 2.0, "c": x * x}


def _nested_display(x):
    return (x[1], [x[0] * 2.0, {"k": x[2] * 3.0}])


def reads_helper_list(x):
    return _pair_as_list(x)[0] * _pair_as_list(x)[1]


def reads_helper_dict(x):
    d = _fields_as_dict(x)
    return d["b"] * d["c"].sum()


def reads_helper_nested(x):
    t = _nested_display(x)
    return t[0] * t[1][0] + np.cos(t[1][1]["k"])


def reads_lambda_list(x):
    pair = (lambda v: [v[0] ** 2, v[1] * v[2]])(x)
    return pair[0] + pair[1] ** 2


def returns_display(x):
    return [x[0] * x[1], {"s": np.sin(x[2])}]


def _early_display(x, s):
    if s > 0:
        return [x[0] * 2.0, x[1]]
    return [x[1], x[0] * 3.0]


def _display_from_loop(x):
    for i in range(3):
        if x[i] > 1.0:
            return {"a": x[i] * 2.0, "b": x[0]}
    return {"a": x[1], "b": x[2] ** 2}


def reads_early_display(x):
    first, second = _early_display(x, 1.0), _early_display(x, -1.0)
    return first[0] * first[1] + np.sin(second[0] * second[1])


def reads_display_from_loop(x):
    r = _display_from_loop(x)
    return r["a"] * r["b"] + _display_from_loop(x * 0.5)["a"]
