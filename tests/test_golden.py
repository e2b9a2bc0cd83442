"""Golden snapshots of generated source.

The generated adjoint is a product people read, so its exact text is pinned. To accept a change
deliberately, run with AUTODIFF_ST_UPDATE_GOLDEN=1 and read the diff of tests/golden/ before committing.
"""

import os
import pathlib

import numpy as np
import pytest

import autodiff_st as ad
from tests import golden_functions as g

GOLDEN = pathlib.Path(__file__).parent / "golden"

CASES = {
    "logistic_loss_grad": lambda: ad.grad(g.logistic_loss),
    "logistic_loss_vjp": lambda: g.logistic_loss,
    "sigmoid_vjp": lambda: g.sigmoid,
    "mlp_loss_grad": lambda: ad.grad(g.mlp_loss, grad_position=(0, 1)),
    "reassigned_grad": lambda: ad.grad(g.reassigned),
    "collides_grad": lambda: ad.grad(g.collides, grad_position=(0, 1, 2)),
    "two_outputs_grad": lambda: ad.grad(g.two_outputs, grad_position=(0, 1)),
    "with_aux_grad": lambda: ad.grad(g.with_aux, has_aux=True),
    "on_floats_grad": lambda: ad.grad(g.on_floats, grad_position=(0, 1)),
    "rnn_grad": lambda: ad.grad(g.rnn, grad_position=(0, 1, 2)),
    "rnn_vjp": lambda: g.rnn,
    "logistic_loss_jvp": lambda: ad.jacfwd(g.logistic_loss),
    "rnn_jvp": lambda: ad.jacfwd(g.rnn, grad_position=(0, 1, 2)),
    "prefix_products_jvp": lambda: ad.jacfwd(g.prefix_products),
    "sigmoid_jacrev": lambda: ad.jacrev(g.sigmoid),
    "logistic_loss_hessian": lambda: ad.hessian(g.logistic_loss),
    "piecewise_grad": lambda: ad.grad(g.piecewise, grad_position=(0, 1)),
    "newton_sqrt_grad": lambda: ad.grad(g.newton_sqrt),
    "first_large_grad": lambda: ad.grad(g.first_large),
    "skip_and_stop_grad": lambda: ad.grad(g.skip_and_stop),
    "prefix_products_grad": lambda: ad.grad(g.prefix_products),
    "scatter_add_grad": lambda: ad.grad(g.scatter_add),
    "row_losses_grad": lambda: ad.grad(g.row_losses, grad_position=(0, 1)),
    "paired_grad": lambda: ad.grad(g.paired, grad_position=(0, 1)),
    "clipped_grad": lambda: ad.grad(g.clipped),
    "two_layer_weights_grad": lambda: _called(ad.value_and_grad(_two_layer(), grad_position=None,
                                                                  weights=_two_layer().trainable_params())),
    "two_layer_features_weights_vjp": lambda: ad.vjp(_two_layer().features, np.ones((4, 3)),
                                                     weights=_two_layer().trainable_params())[1],
}

_NET = []


def _two_layer():
    """One instance of golden_functions.TwoLayer as an ad.nn.Cell, with float64 Parameters."""
    if not _NET:
        cell_class = type("TwoLayer", (g.TwoLayer, ad.nn.Cell), {})
        _NET.append(cell_class(ad.Parameter(np.full((3, 5), 0.1)), ad.Parameter(np.full((5, 1), 0.2))))
    return _NET[0]


def _called(transform):
    """Call a weights transform once, so that ad.source shows the adjoint that call ran."""
    transform(np.ones((4, 3)), np.zeros((4, 1)))
    return transform


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_source_matches_snapshot(name):
    text = ad.source(CASES[name]())
    path = GOLDEN / f"{name}.py.txt"
    if os.environ.get("AUTODIFF_ST_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no snapshot {path.name}: run with AUTODIFF_ST_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_source_compiles_on_its_own(name):
    compile(ad.source(CASES[name]()), name, "exec")
