"""Rules for elementwise numpy functions.

Complex numbers follow JAX's convention. A rule's cotangent is the transpose of the derivative under the
pairing <a, b> = Re(sum(a * b)), without a conjugate. So a holomorphic function's rule is the same as
for real numbers, ``g * f'(z)`` (the rule of np.sin serves complex inputs too), and for a real-valued
function of z = x + iy the gradient is df/dx - i df/dy: the conjugate of the gradient written as a
complex number. The cotangent of a real input is real (``real_like`` keeps the real part). A cotangent
of a real intermediate value may carry an imaginary part (after ``1j * y``) that only that projection
removes, so the rules of functions with a real result of a complex argument (Re, Im, abs, angle) read
the real part of their cotangent. Every rule here is also correct for real inputs, which are what grad
and vjp take for now.
"""

import builtins
import math

import numpy as np

from ..runtime import broadcast_like, cast_like, inside_bounds, real_like, tangent_zeros, unbroadcast
from ..core.registry import vjp_rule, nondifferentiable, method, attribute, NONDIFF_METHODS, diagonal, linear, jvp_rule


@vjp_rule(np.exp)
def exp(g, ans, x):
    return g * ans


@vjp_rule(np.expm1)
def expm1(g, ans, x):
    return g * (ans + 1)


@vjp_rule(np.exp2)
def exp2(g, ans, x):
    return g * ans * math.log(2)


@vjp_rule(np.log)
def log(g, ans, x):
    return g / x


@vjp_rule(np.log1p)
def log1p(g, ans, x):
    return g / (1 + x)


@vjp_rule(np.log2)
def log2(g, ans, x):
    return g / (x * math.log(2))


@vjp_rule(np.log10)
def log10(g, ans, x):
    return g / (x * math.log(10))


@vjp_rule(np.logaddexp)
def logaddexp(g, ans, x1, x2):
    # ans = log(exp(x1) + exp(x2)), so d ans / d x1 = exp(x1) / exp(ans) = exp(x1 - ans).
    return unbroadcast(g * np.exp(x1 - ans), x1), unbroadcast(g * np.exp(x2 - ans), x2)


@vjp_rule(np.logaddexp2)
def logaddexp2(g, ans, x1, x2):
    # ans = log2(2**x1 + 2**x2), so d ans / d x1 = 2**x1 / 2**ans.
    return unbroadcast(g * np.exp2(x1 - ans), x1), unbroadcast(g * np.exp2(x2 - ans), x2)


@vjp_rule(np.sin)
def sin(g, ans, x):
    return g * np.cos(x)


@vjp_rule(np.cos)
def cos(g, ans, x):
    return -g * np.sin(x)


@vjp_rule(np.tan)
def tan(g, ans, x):
    return g * (1 + ans ** 2)


@vjp_rule(np.sinh)
def sinh(g, ans, x):
    return g * np.cosh(x)


@vjp_rule(np.cosh)
def cosh(g, ans, x):
    return g * np.sinh(x)


@vjp_rule(np.tanh)
def tanh(g, ans, x):
    return g * (1 - ans ** 2)


@vjp_rule(np.arctan)
def arctan(g, ans, x):
    return g / (1 + x ** 2)


@vjp_rule(np.arcsin)
def arcsin(g, ans, x):
    return g / np.sqrt(1 - x ** 2)


@vjp_rule(np.arccos)
def arccos(g, ans, x):
    return -g / np.sqrt(1 - x ** 2)


@vjp_rule(np.arcsinh)
def arcsinh(g, ans, x):
    return g / np.sqrt(x ** 2 + 1)


@vjp_rule(np.arccosh)
def arccosh(g, ans, x):
    return g / np.sqrt(x ** 2 - 1)


@vjp_rule(np.arctanh)
def arctanh(g, ans, x):
    return g / (1 - x ** 2)


@vjp_rule(np.arctan2)
def arctan2(g, ans, x1, x2):
    # arctan2(y, x) is the angle of the point (x, y): d angle = (x dy - y dx) / (x^2 + y^2).
    r2 = x1 ** 2 + x2 ** 2
    return unbroadcast(g * x2 / r2, x1), unbroadcast(-g * x1 / r2, x2)


@vjp_rule(np.hypot)
def hypot(g, ans, x1, x2):
    # hypot = sqrt(x1^2 + x2^2), so d hypot / d x1 = x1 / hypot; taken as 0 at the origin, as for abs.
    r = np.where(ans == 0, 1, ans)
    return unbroadcast(g * x1 / r, x1), unbroadcast(g * x2 / r, x2)


@vjp_rule(np.deg2rad, np.radians)
def deg2rad(g, ans, x):
    return g * (np.pi / 180)


@vjp_rule(np.rad2deg, np.degrees)
def rad2deg(g, ans, x):
    return g * (180 / np.pi)


@vjp_rule(np.sinc)
def sinc(g, ans, x):
    # sinc(x) = sin(pi x) / (pi x), so sinc'(x) = (cos(pi x) - sinc(x)) / x, which tends to 0 at x = 0.
    safe_x = np.where(x == 0, 1, x)
    return g * np.where(x == 0, 0, (np.cos(np.pi * x) - ans) / safe_x)


@vjp_rule(np.sqrt)
def sqrt(g, ans, x):
    return g / (2 * ans)


@vjp_rule(np.cbrt)
def cbrt(g, ans, x):
    return g / (3 * ans ** 2)


@vjp_rule(np.square)
def square(g, ans, x):
    return g * 2 * x


@vjp_rule(np.reciprocal)
def reciprocal(g, ans, x):
    return -g * ans ** 2


@vjp_rule(np.float_power)
def float_power(g, ans, x1, x2):
    # As for power (where x1 == 0 the log x1 term is taken as 0); float_power computes in float64, and
    # each gradient goes back to its input's dtype.
    return (cast_like(unbroadcast(g * x2 * np.float_power(x1, x2 - 1), x1), x1),
            cast_like(unbroadcast(g * ans * np.log(np.where((x1 == 0) | (g == 0), 1, x1)), x2), x2))


@vjp_rule(np.abs, np.absolute, builtins.abs)
def absolute(g, ans, x):
    # d|x| = sign(x) dx for real x, and d|z| = Re(conj(z) dz) / |z| for complex z, whose cotangent is
    # g conj(z) / |z|. Both are g conj(x) / |x|, taken as 0 at x = 0. |z| is real, so only the real part
    # of its cotangent counts (a cotangent of a real value may carry an imaginary part that the final
    # projection onto the real input removes; here it would be multiplied into the real part).
    return np.real(g) * np.conj(x) / np.where(ans == 0, 1, ans)


@vjp_rule(np.fabs)
def fabs(g, ans, x):
    return g * np.sign(x)


@vjp_rule(np.copysign, diff=("x1",), nograd=("x2",))
def copysign(g, ans, x1, x2):
    # copysign(x1, x2) is |x1| with the sign of x2: its slope in x1 is 1 where x1 and x2 have the same
    # sign bit and -1 where not. x2 only chooses a sign, so no gradient flows to it.
    return unbroadcast(np.where(np.signbit(x1) == np.signbit(x2), g, -g), x1)


@vjp_rule(np.fmod)
def fmod(g, ans, x1, x2):
    # fmod(x1, x2) = x1 - trunc(x1 / x2) x2, the integer quotient being piecewise constant.
    return unbroadcast(g, x1), unbroadcast(-g * np.trunc(x1 / x2), x2)


@vjp_rule(np.divmod, returns_tuple=True)
def divmod_(g, ans, x1, x2):
    # (floor(x1 / x2), x1 - floor(x1 / x2) x2): the quotient is piecewise constant, only the remainder
    # carries a gradient.
    return unbroadcast(g[1], x1), unbroadcast(-g[1] * ans[0], x2)


@vjp_rule(np.ldexp, diff=("x1",), nograd=("x2",))
def ldexp(g, ans, x1, x2):
    # ldexp(x1, x2) = x1 * 2**x2, with x2 an integer.
    return unbroadcast(np.ldexp(g, x2), x1)


@vjp_rule(np.frexp, returns_tuple=True)
def frexp(g, ans, x):
    # x = mantissa * 2**exponent, the exponent piecewise constant: d mantissa / dx = 2**-exponent.
    return np.ldexp(g[0], -ans[1])


@vjp_rule(np.modf, returns_tuple=True)
def modf(g, ans, x):
    # (fractional part, integral part): the integral part is piecewise constant.
    return g[0]


@vjp_rule(np.maximum, np.fmax)
def maximum(g, ans, x, y):
    # Ties split the gradient evenly between the two arguments, as in JAX.
    return (unbroadcast(np.where(x > y, g, np.where(x == y, g / 2, 0)), x),
            unbroadcast(np.where(x < y, g, np.where(x == y, g / 2, 0)), y))


@vjp_rule(np.minimum, np.fmin)
def minimum(g, ans, x, y):
    return (unbroadcast(np.where(x < y, g, np.where(x == y, g / 2, 0)), x),
            unbroadcast(np.where(x > y, g, np.where(x == y, g / 2, 0)), y))


@vjp_rule(np.where, diff=("x", "y"), nograd=("condition",))  # a boolean: its effect is piecewise constant
def where(g, ans, condition, x, y):
    return unbroadcast(np.where(condition, g, 0), x), unbroadcast(np.where(condition, 0, g), y)


@vjp_rule(np.clip)
def clip(g, ans, a, a_min=None, a_max=None, out=None):
    return g * inside_bounds(a, a_min, a_max)


@vjp_rule(np.nan_to_num)
def nan_to_num(g, ans, x, copy=True, nan=0.0, posinf=None, neginf=None):
    # Finite values pass through; nan and the infinities are replaced by constants.
    return np.where(np.isfinite(x), g, 0)


# Complex parts. The cotangents follow the convention at the top of this file.

@vjp_rule(np.real)
def real(g, ans, val):
    # Re is linear; its transpose embeds g, the cotangent of a real value (so its real part), as a complex
    # number with imaginary part 0.
    return np.real(g)


@vjp_rule(np.imag)
def imag(g, ans, val):
    # Im z = Re(-1j z), so the cotangent is -1j Re(g) (Im z is real: only the real part of its cotangent
    # counts); for real val, whose Im is 0, it is 0.
    return real_like(-1j * np.real(g), val)


@vjp_rule(np.conjugate)
def conjugate(g, ans, x):
    return np.conj(g)


@vjp_rule(np.angle)
def angle(g, ans, z, deg=False):
    # angle(z) = Im(log z), so d angle = Re(-1j dz / z), whose cotangent is -1j g / z. For real z the
    # angle is 0 or pi, a step: real_like keeps the real part, 0 (the division is guarded for z = 0).
    # With deg=True the angle is in degrees, 180 / pi times as large.
    return real_like(-1j * np.real(g) / np.where(z == 0, 1, z), z) * (180 / np.pi) ** deg


# -- forward rules ---------------------------------------------------------------------------------------
# Most reverse rules here are g times the derivative, which serves forward mode too (``diagonal``). The
# exceptions: complex parts, which are linear (Re, Im, conj) or not holomorphic (abs, angle), so the
# reverse rule's conjugations do not carry over; casts (float_power); and tuple-returning ufuncs.

diagonal(np.exp, np.expm1, np.exp2, np.log, np.log1p, np.log2, np.log10, np.logaddexp, np.logaddexp2,
         np.sin, np.cos, np.tan, np.sinh, np.cosh, np.tanh, np.arctan, np.arcsin, np.arccos, np.arcsinh,
         np.arccosh, np.arctanh, np.arctan2, np.hypot, np.deg2rad, np.radians, np.rad2deg, np.degrees,
         np.sinc, np.sqrt, np.cbrt, np.square, np.reciprocal, np.fabs, np.copysign, np.fmod, np.ldexp,
         np.maximum, np.fmax, np.minimum, np.fmin, np.where, np.clip, np.nan_to_num)
linear(np.real, np.imag, np.conjugate)


@jvp_rule(np.abs, np.absolute, builtins.abs)
def absolute_jvp(t, ans, x):
    # d|x| = Re(conj(x) dx) / |x|, taken as 0 at x = 0: sign(x) dx for real x.
    return np.real(np.conj(x) * t) / np.where(ans == 0, 1, ans)


@jvp_rule(np.angle)
def angle_jvp(t, ans, z, deg=False):
    # d angle = Im(dz / z), in degrees with deg=True; 0 for real z and real dz.
    return np.imag(t / np.where(z == 0, 1, z)) * (180 / np.pi) ** deg


@jvp_rule(np.float_power, wrt="x1")
def float_power_jvp_x1(t, ans, x1, x2):
    return broadcast_like(t * x2 * np.float_power(x1, x2 - 1), ans)


@jvp_rule(np.float_power, wrt="x2")
def float_power_jvp_x2(t, ans, x1, x2):
    return broadcast_like(t * ans * np.log(np.where((x1 == 0) | (t == 0), 1, x1)), ans)


@jvp_rule(np.divmod, wrt="x1")
def divmod_jvp_x1(t, ans, x1, x2):
    # The quotient is piecewise constant; the remainder moves with x1.
    return tangent_zeros(ans[0]), broadcast_like(t, ans[1])


@jvp_rule(np.divmod, wrt="x2")
def divmod_jvp_x2(t, ans, x1, x2):
    return tangent_zeros(ans[0]), broadcast_like(-t * ans[0], ans[1])


@jvp_rule(np.frexp)
def frexp_jvp(t, ans, x):
    # The mantissa moves as x / 2**exponent; the exponent is piecewise constant.
    return np.ldexp(t, -ans[1]), tangent_zeros(ans[1])


@jvp_rule(np.modf)
def modf_jvp(t, ans, x):
    # The fractional part moves with x; the integral part is piecewise constant.
    return t, tangent_zeros(ans[1])


@vjp_rule(np.heaviside)
def heaviside(g, ans, x1, x2):
    # A step in x1 (derivative 0 away from it); x2 is the value taken where x1 is exactly 0.
    return unbroadcast(0 * g, x1), unbroadcast(g * np.equal(x1, 0), x2)


@jvp_rule(np.heaviside, wrt="x1")
def heaviside_jvp_x1(t, ans, x1, x2):
    return tangent_zeros(ans)


@jvp_rule(np.heaviside, wrt="x2")
def heaviside_jvp_x2(t, ans, x1, x2):
    return broadcast_like(t * np.equal(x1, 0), ans)


@vjp_rule(np.nextafter, math.nextafter)
def nextafter(g, ans, x1, x2):
    # The next float after x1 towards x2 moves with x1 (it is x1 plus a piecewise constant step).
    return unbroadcast(g, x1), unbroadcast(0 * g, x2)


@jvp_rule(np.nextafter, math.nextafter, wrt="x1")
def nextafter_jvp_x1(t, ans, x1, x2):
    return broadcast_like(t, ans)


@jvp_rule(np.nextafter, math.nextafter, wrt="x2")
def nextafter_jvp_x2(t, ans, x1, x2):
    return tangent_zeros(ans)


method("clip", np.clip)
method("conj", np.conjugate)
method("conjugate", np.conjugate)
attribute("real", np.real)
attribute("imag", np.imag)
NONDIFF_METHODS.update({"round"})

nondifferentiable(
    np.sign, np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix, np.isnan, np.isinf,
    np.isfinite, np.isneginf, np.isposinf, np.signbit, np.spacing,
    np.isclose, np.allclose, np.array_equal, np.array_equiv, np.isreal, np.iscomplex, np.isrealobj,
    np.iscomplexobj, np.isnat, np.gcd, np.lcm,
    np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.invert, np.left_shift, np.right_shift,
)
nondifferentiable(*[getattr(np, name) for name in ("bitwise_not", "bitwise_count") if hasattr(np, name)])
