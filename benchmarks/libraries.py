"""The other libraries `make bench` compares with, each loaded only if it imports: autograd, JAX (eager and
jit), torch.func and tangent-ad. Each ``*_grad`` function returns a zero-argument callable computing the
gradient of the numpy function ``fn`` at ``args`` with respect to ``argnums``, or raises (the caller
prints the reason and goes on).
"""

import contextlib
import io
import types

import numpy as np

AUTOGRAD = "autograd"
JAX_EAGER = "jax eager"
JAX_JIT = "jax.jit"
TORCH = "torch.func"
TANGENT = "tangent-ad"
ORDER = (AUTOGRAD, JAX_EAGER, JAX_JIT, TORCH, TANGENT)


def _load(name):
    try:
        if name == AUTOGRAD:
            import autograd
            import autograd.numpy as anp
            return (autograd, anp), None
        if name == JAX_EAGER:
            import jax
            jax.config.update("jax_enable_x64", True)  # float64, like the numpy contenders
            import jax.numpy as jnp
            return (jax, jnp), None
        if name == TORCH:
            import torch
            import torch.func
            torch.set_num_threads(1)
            return torch, None
        if name == TANGENT:
            import tangent
            return tangent, None
    except Exception as e:  # ImportError, or a broken install
        return None, f"{name}: not importable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    raise ValueError(name)


_LOADED = {}


def loaded(name):
    """(the module, or None; why not) for a library, imported the first time it is asked for: a run of
    one workload imports only the libraries that workload compares with."""
    key = JAX_EAGER if name == JAX_JIT else name
    if key not in _LOADED:
        _LOADED[key] = _load(key)
    return _LOADED[key]


def available(name):
    return loaded(name)[0] is not None


def missing_notes():
    """Why each library that is not there is not: every library is imported to say so."""
    return [loaded(name)[1] for name in (AUTOGRAD, JAX_EAGER, TORCH, TANGENT) if loaded(name)[1]]


def with_numpy(fn, numpy_module):
    """The same code as ``fn``, with the global ``np`` bound to ``numpy_module``; the functions of the same
    module that ``fn`` calls are rebound the same way (lstm_objective calls lstm_cell)."""
    originals = fn.__globals__
    new_globals = dict(originals, np=numpy_module)
    for name, value in originals.items():
        if isinstance(value, types.FunctionType) and value.__globals__ is originals:
            new_globals[name] = types.FunctionType(value.__code__, new_globals, value.__name__,
                                                   value.__defaults__, value.__closure__)
    return new_globals[fn.__name__] if fn.__name__ in new_globals else types.FunctionType(
        fn.__code__, new_globals, fn.__name__, fn.__defaults__, fn.__closure__)


def autograd_grad(fn, args, argnums):
    autograd, anp = loaded(AUTOGRAD)[0]
    grad = autograd.grad(with_numpy(fn, anp), argnums)
    return lambda: grad(*args)


def jax_grad(fn, args, argnums, jit):
    jax, jnp = loaded(JAX_EAGER)[0]
    jargs = tuple(jax.device_put(a) if isinstance(a, np.ndarray) else a for a in args)
    grad = jax.grad(with_numpy(fn, jnp), argnums)
    if jit:
        static = tuple(i for i, a in enumerate(args) if isinstance(a, int))
        grad = jax.jit(grad, static_argnums=static)
    return lambda: jax.block_until_ready(grad(*jargs))


def torch_grad(torch_fn, args, argnums):
    torch = loaded(TORCH)[0]
    targs = tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else torch.tensor(a, dtype=torch.float64)
                  for a in args)
    grad = torch.func.grad(torch_fn, argnums)
    return lambda: grad(*targs)


def tangent_grad(fn, args, argnums):
    tangent = loaded(TANGENT)[0]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        # it prints warnings about integer temporaries (the loop counters) while it transforms
        grad = tangent.grad(fn, wrt=argnums if isinstance(argnums, tuple) else (argnums,), verbose=0)
    return lambda: grad(*args)


def gradient_contenders(fn, args, argnums, torch_fn=None, which=ORDER):
    """name -> callable for each library in ``which`` that is installed and can differentiate ``fn``;
    and the notes of those that are not or cannot."""
    out, notes = {}, []
    for name in which:
        if not available(name):
            continue
        try:
            if name == AUTOGRAD:
                out[name] = autograd_grad(fn, args, argnums)
            elif name in (JAX_EAGER, JAX_JIT):
                out[name] = jax_grad(fn, args, argnums, jit=name == JAX_JIT)
            elif name == TORCH:
                if torch_fn is None:
                    notes.append(f"{name}: no torch version of this workload")
                    continue
                out[name] = torch_grad(torch_fn, args, argnums)
            elif name == TANGENT:
                out[name] = tangent_grad(fn, args, argnums)
        except Exception as e:
            notes.append(f"{name}: cannot differentiate it ({type(e).__name__}: {_first_line(e)})")
    return out, notes


def jacobian_contenders(np_fn, torch_fn, x, A):
    """jacrev of ``np_fn(x, A)`` with respect to x, for each library that has one."""
    out, notes = {}, []
    # Each callable gets its own name: a lambda reads its free variables when called, so a name reused
    # below would make one library call another's Jacobian.
    if available(AUTOGRAD):
        autograd, anp = loaded(AUTOGRAD)[0]
        autograd_jac = autograd.jacobian(with_numpy(np_fn, anp), 0)
        out[AUTOGRAD] = lambda: autograd_jac(x, A)
    if available(JAX_EAGER):
        jax, jnp = loaded(JAX_EAGER)[0]
        xj, Aj = jax.device_put(x), jax.device_put(A)
        jax_jac = jax.jacrev(with_numpy(np_fn, jnp), 0)
        jax_jitted = jax.jit(jax_jac)
        out[JAX_EAGER] = lambda: jax.block_until_ready(jax_jac(xj, Aj))
        out[JAX_JIT] = lambda: jax.block_until_ready(jax_jitted(xj, Aj))
    if available(TORCH):
        torch = loaded(TORCH)[0]
        xt, At = torch.from_numpy(x), torch.from_numpy(A)
        torch_jac = torch.func.jacrev(torch_fn, 0)
        out[TORCH] = lambda: torch_jac(xt, At)
    if available(TANGENT):
        notes.append(f"{TANGENT}: has no Jacobian transform")
    return out, notes


def _first_line(e):
    text = str(e).strip()
    return text.splitlines()[0][:120] if text else ""
