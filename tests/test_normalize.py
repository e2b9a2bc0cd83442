"""Stage 3, normalize: one operation per statement, single assignment, readable deterministic names.

Also what the normal form promises downstream: generated source is byte-for-byte deterministic, and
each generated block is headed by a comment quoting the user's file, line and statement.
"""

import ast
import inspect
import linecache
import os
import re
import subprocess
import sys
import textwrap

import gast
import numpy as np
import pytest

import autodiff_st as ad
from autodiff_st.compiler import normalize
from autodiff_st.compiler.naming import Namer, identifiers_in
from autodiff_st.compiler.parsing import parse_function
from tests.support import line_of


def normal_form(fn):
    parsed = parse_function(fn)
    return normalize.normalize(parsed, Namer(identifiers_in(parsed.node)))


def assigned(ops):
    return [op.target for op in ops if op.kind == "assign"]




# --------------------------------------------------------------------------------------------------
# Functions under test
# --------------------------------------------------------------------------------------------------

def nested(a, b, x):
    return np.exp(x) + a * b - np.sum(x ** 2) / np.tanh(x) + np.log(a * b)


def multi_statement(x, y):
    """A docstring is not an operation."""
    a = np.exp(x) * np.log(y + 1.0)
    pass
    c = np.sum(a * x, axis=0) - y
    return c * 2.0


def reassigned(x):
    x = x * 2.0
    x = np.sin(x)
    x = x + 1.0
    return x


def augmented(x):
    x += 1.0
    x *= x
    return x


def swapped(x, y):
    a, b = y, x
    a, b = b, a
    return a * 2.0 + b


def chained(x):
    a = b = x * 2.0
    return a * b


def annotated(x):
    y: float = x * 3.0
    return y


def has_x_bar(x, x_bar):
    return x * x_bar


def has_x_bar_local(x):
    x_bar = x * 3.0
    return x_bar * x


def shadows_helpers(g, ans):
    unbroadcast = g * ans
    ones_like = np.sin(unbroadcast)
    out_bar = ones_like * g
    return out_bar


def shadows_np(x):
    np_2 = np.exp(x)
    out = np_2 * x
    return out


def is_simple_callee(node):
    """A callee in the normal form: a name or a dotted path of names."""
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name)


def is_one_operation(value):
    if normalize.is_atom(value):
        return True
    atom = normalize.is_atom
    if isinstance(value, gast.BinOp):
        return atom(value.left) and atom(value.right)
    if isinstance(value, gast.UnaryOp):
        return atom(value.operand)
    if isinstance(value, gast.Compare):
        return atom(value.left) and all(atom(c) for c in value.comparators)
    if isinstance(value, gast.Attribute):
        return atom(value.value)
    if isinstance(value, gast.Call):
        return (is_simple_callee(value.func) and all(atom(a) for a in value.args)
                and all(atom(k.value) for k in value.keywords))
    return False


# --------------------------------------------------------------------------------------------------
# One operation per statement
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [nested, multi_statement, reassigned, augmented, swapped, chained, annotated])
def test_one_operation_per_statement(fn):
    ops = normal_form(fn)
    assert ops[-1].kind == "return"
    for op in ops:
        assert is_one_operation(op.value), (op.kind, op.target)


def test_nested_expression_is_split_into_one_statement_per_operation():
    ops = normal_form(nested)
    # exp, *, +, **, sum, tanh, /, -, *, log, +: eleven operations, then the return
    assert len(ops) == 12
    assert [op.kind for op in ops] == ["assign"] * 11 + ["return"]


def test_docstring_and_pass_make_no_operation():
    ops = normal_form(multi_statement)
    assert all(not (isinstance(op.value, gast.Constant) and isinstance(op.value.value, str)) for op in ops)
    # a = ...: exp, +, log, *; c = ...: *, sum, -; return: *; then the return itself
    assert [op.kind for op in ops] == ["assign"] * 8 + ["return"]
    targets = assigned(ops)
    assert targets[3] == "a" and targets[6] == "c"


def test_each_op_keeps_the_origin_of_its_statement():
    ops = normal_form(multi_statement)
    lines = {op.origin.lineno for op in ops}
    expected = {line_of(multi_statement, "a = np.exp")[0], line_of(multi_statement, "c = np.sum")[0],
                line_of(multi_statement, "return c")[0]}
    assert lines == expected
    for op in ops:
        assert op.origin.source_line == linecache.getline(op.origin.filename, op.origin.lineno).strip()


# --------------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------------

def test_temporaries_are_named_after_what_they_hold():
    names = assigned(normal_form(nested))
    assert "exp_x" in names
    assert "a_times_b" in names
    assert "tanh_x" in names
    # the second a * b is a new temporary (no common subexpressions), so its log is log_a_times_b_2
    assert "a_times_b_2" in names and "log_a_times_b_2" in names


def test_temporary_names_never_collide_with_user_names():
    def uses_exp_x(x, exp_x):
        return np.exp(x) * exp_x

    names = assigned(normal_form(uses_exp_x))
    assert "exp_x" not in names
    assert "exp_x_2" in names
    assert ad.grad(uses_exp_x, (0, 1))(0.5, 3.0) == pytest.approx((np.exp(0.5) * 3.0, np.exp(0.5)))


def test_reassignment_gives_numbered_versions():
    ops = normal_form(reassigned)
    names = assigned(ops)
    assert names == ["x_2", "x_3", "x_4"]
    assert ops[-1].value.id == "x_4"
    text = ad.source(ad.grad(reassigned))
    for name in ("x_2 =", "x_3 =", "x_4 ="):
        assert name in text
    # sin(2x) + 1: 2 cos(2x)
    assert ad.grad(reassigned)(0.3) == pytest.approx(2.0 * np.cos(0.6))


def test_augmented_assignment_makes_a_new_version():
    ops = normal_form(augmented)
    assert assigned(ops) == ["x_2", "x_3"]
    first = next(op for op in ops if op.kind == "assign").value
    assert isinstance(first, gast.BinOp) and first.left.id == "x"
    # (an "unshared" op before it checks, when it runs, that x is not a caller's array inside a call)
    assert [op.kind for op in ops][0] == "unshared"
    # (x + 1)^2: 2 (x + 1)
    assert ad.grad(augmented)(2.0) == pytest.approx(6.0)
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(ad.grad(augmented)(x), 2 * (x + 1))
    np.testing.assert_array_equal(x, [1.0, 2.0])  # the caller's array is untouched


def test_parallel_assignment_reads_the_old_values():
    # a, b = y, x; then swap back: a = x, b = y. 2x + y.
    assert ad.grad(swapped, (0, 1))(1.0, 10.0) == pytest.approx((2.0, 1.0))
    value, _ = ad.value_and_grad(swapped)(1.0, 10.0)
    assert value == pytest.approx(12.0)


def test_chained_and_annotated_assignment():
    # a = b = 2x: 4x^2, derivative 8x
    assert ad.grad(chained)(1.5) == pytest.approx(12.0)
    assert ad.grad(annotated)(1.5) == pytest.approx(3.0)


def test_user_variable_named_x_bar_moves_the_adjoint_to_x_bar_2():
    text = ad.source(ad.grad(has_x_bar))
    assert re.search(r"^\s*x_bar_2 = ", text, re.M), text
    assert re.search(r"return \(out, x_bar_2\)|x_bar_2\)", text)
    assert not re.search(r"^\s*x_bar = ", text, re.M), "the user's x_bar is never assigned"
    assert ad.grad(has_x_bar)(2.0, 5.0) == pytest.approx(5.0)
    assert ad.grad(has_x_bar, (0, 1))(2.0, 5.0) == pytest.approx((5.0, 2.0))


def test_user_local_named_x_bar():
    # 3x * x = 3x^2: 6x
    assert ad.grad(has_x_bar_local)(2.0) == pytest.approx(12.0)
    text = ad.source(ad.grad(has_x_bar_local))
    assert "x_bar = x * 3.0" in text
    assert re.search(r"^\s*x_bar_\d+ = ", text, re.M)


def test_user_names_that_match_generated_helpers():
    # (sin(g a) * g): d/dg = cos(g a) a g + sin(g a), d/da = cos(g a) g g
    g, a = 0.5, 0.25
    u = g * a
    grads = ad.grad(shadows_helpers, (0, 1))(g, a)
    assert grads == pytest.approx((np.cos(u) * a * g + np.sin(u), np.cos(u) * g * g))
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(ad.grad(shadows_np)(x), np.exp(x) * (1 + x))


# --------------------------------------------------------------------------------------------------
# Determinism of the generated source
# --------------------------------------------------------------------------------------------------

MODULE = textwrap.dedent('''
    import numpy as np

    def helper(z):
        return np.tanh(z) * z

    def loss(w, x, y, x_bar):
        h = helper(x @ w)
        h = h + x_bar
        err = h - y
        return np.mean(err * err), err
''')

SCRIPT = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import autodiff_st as ad
    import generated_subject as m
    print(ad.source(ad.grad(m.loss, grad_position=(0, 1), has_aux=True)))
    print(ad.source(ad.value_and_grad(m.loss, grad_position=(1, 0))))
    print(ad.source(m.loss))
    print(ad.source(m.helper))
''')


def _generate(directory, hash_seed):
    env = dict(os.environ, PYTHONHASHSEED=str(hash_seed))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(directory)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_generated_source_is_the_same_in_two_fresh_processes(tmp_path):
    (tmp_path / "generated_subject.py").write_text(MODULE)
    first = _generate(tmp_path, 1)
    second = _generate(tmp_path, 987654)
    assert "def " in first
    assert first == second


def test_generated_source_is_the_same_when_built_twice_in_one_process():
    from autodiff_st.compiler import cache
    first = cache.build(multi_statement, (0, 1), "grad").source
    second = cache.build(multi_statement, (0, 1), "grad").source
    assert first == second


# --------------------------------------------------------------------------------------------------
# Comments that point at the user's lines
# --------------------------------------------------------------------------------------------------

COMMENT = re.compile(r"^\s*# (?:[\w ]+: )?(?P<file>[^\s:]+):(?P<line>\d+)  (?P<text>.*)$")


def _statement_lines(fn):
    """Line numbers of the statements of ``fn`` that compute something (not docstrings or pass)."""
    lines, first = inspect.getsourcelines(fn)
    node = ast.parse(textwrap.dedent("".join(lines))).body[0]
    return {first + s.lineno - 1 for s in node.body
            if not isinstance(s, ast.Pass)
            and not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))}


def _generated_bodies(text):
    """For each generated function, its body lines after the docstring."""
    lines = text.splitlines()
    factory = ast.parse(text).body[0]
    for fn in factory.body:
        if isinstance(fn, ast.FunctionDef):
            start = fn.body[0].end_lineno if ast.get_docstring(fn) is not None else fn.lineno
            yield lines[start:fn.end_lineno]


@pytest.mark.parametrize("make, user", [
    (lambda: ad.grad(multi_statement, (0, 1)), multi_statement),
    (lambda: multi_statement, multi_statement),
    (lambda: ad.grad(reassigned), reassigned),
    (lambda: ad.grad(nested, (0, 1, 2)), nested),
], ids=["grad", "vjp", "reassigned", "nested"])
def test_each_generated_block_is_headed_by_the_user_line(make, user):
    text = ad.source(make())
    filename = user.__code__.co_filename
    quoted = set()
    for body in _generated_bodies(text):
        seen_comment = False
        for line in body:
            stripped = line.strip()
            m = COMMENT.match(line)
            if m:
                assert m.group("file") == os.path.basename(filename)
                lineno = int(m.group("line"))
                assert m.group("text") == linecache.getline(filename, lineno).strip()
                quoted.add(lineno)
                seen_comment = True
            elif stripped and not stripped.startswith("return") and not stripped.endswith("= residuals"):
                assert seen_comment, f"a generated statement with no comment above it: {line!r}\n{text}"
    assert quoted == _statement_lines(user), text
