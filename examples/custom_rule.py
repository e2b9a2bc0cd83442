"""Teach autodiff_st about functions it cannot, or should not, differentiate itself.

- ad.register_vjp gives a function a derivative rule. The compiler then inlines the rule where the
  function is called, instead of reading its source: useful for functions written in C, or for a
  formula that is more accurate or cheaper than differentiating the implementation line by line.
- ad.stop_gradient treats one value as a constant.
- ad.nondifferentiable marks a whole function as having no derivative, so the compiler never reads
  its body (which may then use loops and branches).

Run it with `.venv/bin/python examples/custom_rule.py`.
"""

import numpy as np

import autodiff_st as ad


def softplus(x):
    """log(1 + exp(x)), without overflow. autodiff_st has no rule for np.logaddexp."""
    return np.logaddexp(0.0, x)


# A rule takes g (the cotangent of the result), ans (the result), then the function's own parameters,
# and returns the cotangent of each parameter. d softplus(x) / dx = sigmoid(x) = exp(x - softplus(x)).
@ad.register_vjp(softplus)
def softplus_vjp(g, ans, x):
    return g * np.exp(x - ans)


@ad.nondifferentiable
def robust_scale(x):
    """A scale for x from its spread. The branch is fine: the compiler never reads this body."""
    scale = np.percentile(np.abs(x), 90)
    if scale == 0.0:
        scale = 1.0
    return scale


def loss(w, x):
    z = w * x / robust_scale(x)
    baseline = ad.stop_gradient(np.mean(z))  # subtracted, but no gradient flows through it
    return np.sum(softplus(z - baseline))


def loss_at_baseline(w, x, baseline):
    """The same loss with the baseline passed in as a number."""
    z = w * x / robust_scale(x)
    return np.sum(softplus(z - baseline))


def main():
    rng = np.random.default_rng(0)
    w = rng.standard_normal(5)
    x = rng.standard_normal(5)

    print("The adjoint inlines softplus_vjp; robust_scale and stop_gradient get no adjoint:\n")
    print(ad.source(ad.grad(loss)))

    g = ad.grad(loss)(w, x)
    print("gradient with respect to w:", g)

    # stop_gradient makes the baseline a constant, so the gradient is that of loss_at_baseline.
    baseline = np.mean(w * x / robust_scale(x))
    g_const = ad.grad(loss_at_baseline)(w, x, baseline)
    print(f"same as with the baseline fixed: max abs difference {np.max(np.abs(g - g_const)):.1e}")

    # check_grads compares the adjoint with central finite differences in random directions, at
    # first and second order. A rule applies where the function is called, so check it through a caller.
    def calls_softplus(x):
        return softplus(x)

    ad.testing.check_grads(calls_softplus, (x,), modes=("rev",))

    # check_grads perturbs every float argument, and finite differences would see robust_scale(x) move.
    # So hold x and the baseline fixed, and check the gradient with respect to w alone. order=1:
    # second derivatives through a call to your own function (loss_at_baseline) arrive in a later version.
    def loss_of_w(w):
        return loss_at_baseline(w, x, baseline)

    ad.testing.check_grads(loss_of_w, (w,), order=1, modes=("rev",))
    print("check_grads passed: softplus_vjp and the gradient of loss agree with finite differences")


if __name__ == "__main__":
    main()
