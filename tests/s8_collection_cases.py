"""Python containers in differentiated code: one small function per construct.

``CASES`` lists (group, name, function, arguments); the first argument is differentiated (a float array of
shape (3,) unless said otherwise). tests/s8_collections_probe.py runs each through every transform, and
tests/test_s8_collections.py checks them at order 2.
"""

import math

import numpy as np


def square(t):
    return t * t


def positive(t):
    return t > 0.0


def weight_of(pair):
    return pair[1]


# --- 1. writes into elements of lists and dicts ----------------------------------------------------

def dict_new_keys(x):
    d = {}
    d["a"] = x * 2.0
    d["b"] = np.sin(x)
    return np.sum(d["a"] * d["b"])


def dict_overwrite(x):
    d = {"a": x}
    d["a"] = d["a"] * np.cos(x)
    d["a"] = d["a"] + x ** 2
    return np.sum(d["a"])


def list_write(x):
    acc = [0.0, 0.0]
    acc[0] = x[0] * x[1]
    acc[1] = np.sin(x[2]) * acc[0]
    acc[0] = acc[0] + acc[1]
    return acc[0] * acc[1]


def list_times_n(x):
    n = 3
    out = [0.0] * n
    for i in range(n):
        out[i] = x[i] ** 2 + out[i - 1]
    return out[0] + out[1] * out[2]


def list_of_array(x):
    ys = list(x)
    ys[1] = ys[0] * ys[2]
    ys[2] = np.tanh(ys[1])
    return ys[0] + ys[1] * ys[2]


def list_write_in_loop(x):
    acc = [x[0], x[1]]
    for i in range(4):
        acc[i % 2] = np.sin(acc[(i + 1) % 2]) * x[2] + acc[i % 2]
    return acc[0] * acc[1]


def dict_in_loop(x):
    total = 0.0
    for i in range(3):
        d = {}
        d["v"] = x[i] * 2.0
        d["w"] = np.tanh(d["v"])
        d["v"] = d["v"] * d["w"]
        total = total + d["v"]
    return total


def dict_in_branch(x, s):
    if s > 0.0:
        d = {"k": x * 1.0}
        d["k"] = d["k"] * s
    else:
        d = {}
        d["k"] = np.sin(x)
    d["m"] = np.sum(d["k"])
    return d["m"] * x[0]


def aux_dict(x):
    aux = {}
    loss = np.sum(x ** 2)
    aux["loss"] = loss
    aux["norm"] = np.sqrt(loss)
    return loss * aux["norm"], aux


def list_augmented(x):
    acc = [x[0], x[1]]
    acc[0] += x[2] * acc[1]
    acc[1] *= acc[0]
    return acc[0] + acc[1]


def nested_write(x):
    rows = [[0.0, 0.0], [0.0, 0.0]]
    rows[0][1] = x[0] * x[1]
    rows[1][0] = np.cos(x[2]) + rows[0][1]
    return rows[0][1] * rows[1][0]


def dict_of_lists(x):
    d = {"a": [x[0], x[1]]}
    d["a"][1] = d["a"][0] * x[2]
    return d["a"][0] + d["a"][1] ** 2


# --- 2. methods -------------------------------------------------------------------------------------

def dict_get(x):
    d = {"a": x[0] * 2.0}
    return d.get("a", 0.0) * x[1] + d.get("b", x[2])


def dict_setdefault(x):
    d = {"a": x[0]}
    v = d.setdefault("b", x[1] * x[2])
    w = d.setdefault("a", x[2])
    return v * w + d["b"]


def dict_update(x):
    d = {"a": x[0]}
    d.update({"b": x[1] ** 2, "a": np.sin(x[2])})
    return d["a"] * d["b"]


def dict_items(x):
    d = {"a": x[0], "b": x[1] * x[2]}
    total = 0.0
    for k, v in d.items():
        total = total + v ** 2
    return total


def dict_values_keys(x):
    d = {"a": x[0], "b": x[1] * x[2]}
    total = sum(d.values())
    for k in d.keys():
        total = total * d[k]
    return total


def list_extend(x):
    ys = [x[0]]
    ys.extend([x[1] * 2.0, np.sin(x[2])])
    return ys[0] * ys[1] + ys[2]


def list_insert(x):
    ys = [x[0], x[1]]
    ys.insert(1, x[2] ** 2)
    return ys[0] + ys[1] * ys[2]


def list_pop_index(x):
    ys = [x[0], x[1], x[2]]
    first = ys.pop(0)
    return first * ys[0] + ys[1]


def list_iadd(x):
    ys = [x[0]]
    ys += [x[1] * x[2]]
    ys = ys + [np.cos(x[0])]
    return ys[0] * ys[1] + ys[2]


# --- 3. comprehensions -------------------------------------------------------------------------------

def two_for_comprehension(x):
    pairs = [x[i] * x[j] for i in range(3) for j in range(i, 3) if i != 1]
    return sum(pairs)


def dict_comprehension(x):
    d = {k: x[k] ** 2 for k in range(3) if k != 1}
    return d[0] * d[2]


def generator_in_reductions(x):
    a = sum(t ** 2 for t in x)
    b = max(t * 2.0 for t in x)
    c = min(np.sin(t) for t in x if t > -5.0)
    return a + b * c


def generator_in_any_all(x):
    scale = 2.0 if any(t > 0.5 for t in x) else 1.0
    if all(t > -5.0 for t in x):
        scale = scale * 3.0
    return scale * np.sum(x ** 2)


def nested_list_comprehension(x):
    rows = [[x[i] * x[j] for j in range(3)] for i in range(3)]
    return sum(r[0] * r[2] for r in rows)


# --- 4. builtins over lists and arrays --------------------------------------------------------------

def zip_lists(x):
    a = [x[0], x[1]]
    b = [x[2], x[0] * 2.0]
    return sum(p * q for p, q in zip(a, b))


def enumerate_array(x):
    total = 0.0
    for i, t in enumerate(x):
        total = total + (i + 1) * t ** 2
    return total


def reversed_list(x):
    ys = [x[0], x[1] * 2.0, x[2]]
    total = 0.0
    for t in reversed(ys):
        total = total * 0.5 + t
    return total


def sorted_key(x):
    pairs = [(1, x[0]), (0, x[1] * 2.0), (2, x[2])]
    ordered = sorted(pairs, key=lambda p: p[0])
    return ordered[0][1] * ordered[1][1] + ordered[2][1]


def sorted_key_function(x):
    pairs = [("a", 2.0, x[0]), ("b", 1.0, x[1])]
    ordered = sorted(pairs, key=weight_of)
    return ordered[0][2] * 3.0 + ordered[1][2]


def map_lambda(x):
    ys = list(map(lambda t: t * 3.0, [x[0], x[1]]))
    return ys[0] * ys[1]


def map_function(x):
    return sum(map(square, x))


def filter_function(x):
    kept = list(filter(positive, [x[0], x[1] - 10.0, x[2]]))
    return sum(kept)


def filter_lambda(x):
    return sum(filter(lambda t: t > 0.0, x))


X = np.array([0.4, -0.7, 1.3])
S = 0.6

CASES = [
    ("writes", "dict_new_keys", dict_new_keys, (X,)),
    ("writes", "dict_overwrite", dict_overwrite, (X,)),
    ("writes", "list_write", list_write, (X,)),
    ("writes", "list_times_n", list_times_n, (X,)),
    ("writes", "list_of_array", list_of_array, (X,)),
    ("writes", "list_write_in_loop", list_write_in_loop, (X,)),
    ("writes", "dict_in_loop", dict_in_loop, (X,)),
    ("writes", "dict_in_branch", dict_in_branch, (X, S)),
    ("writes", "dict_in_branch_neg", dict_in_branch, (X, -S)),
    ("writes", "aux_dict", aux_dict, (X,)),
    ("writes", "list_augmented", list_augmented, (X,)),
    ("writes", "nested_write", nested_write, (X,)),
    ("writes", "dict_of_lists", dict_of_lists, (X,)),
    ("methods", "dict_get", dict_get, (X,)),
    ("methods", "dict_setdefault", dict_setdefault, (X,)),
    ("methods", "dict_update", dict_update, (X,)),
    ("methods", "dict_items", dict_items, (X,)),
    ("methods", "dict_values_keys", dict_values_keys, (X,)),
    ("methods", "list_extend", list_extend, (X,)),
    ("methods", "list_insert", list_insert, (X,)),
    ("methods", "list_pop_index", list_pop_index, (X,)),
    ("methods", "list_iadd", list_iadd, (X,)),
    ("comprehensions", "two_for_comprehension", two_for_comprehension, (X,)),
    ("comprehensions", "dict_comprehension", dict_comprehension, (X,)),
    ("comprehensions", "generator_in_reductions", generator_in_reductions, (X,)),
    ("comprehensions", "generator_in_any_all", generator_in_any_all, (X,)),
    ("comprehensions", "nested_list_comprehension", nested_list_comprehension, (X,)),
    ("builtins", "zip_lists", zip_lists, (X,)),
    ("builtins", "enumerate_array", enumerate_array, (X,)),
    ("builtins", "reversed_list", reversed_list, (X,)),
    ("builtins", "sorted_key", sorted_key, (X,)),
    ("builtins", "sorted_key_function", sorted_key_function, (X,)),
    ("builtins", "map_lambda", map_lambda, (X,)),
    ("builtins", "map_function", map_function, (X,)),
    ("builtins", "filter_function", filter_function, (X,)),
    ("builtins", "filter_lambda", filter_lambda, (X,)),
]
