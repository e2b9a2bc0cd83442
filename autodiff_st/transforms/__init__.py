"""The public transforms, built on the compiler's generated code.

``checks`` holds the argument checks every transform shares; ``grad`` holds ``grad``,
``value_and_grad``, ``source`` and ``stop_gradient``; ``vjp`` holds ``vjp``; ``jacobians`` holds
``jvp``, ``jacrev`` and ``jacfwd``, with ``jacobian_parts`` (what they share) and ``pytrees`` (inputs
that are tuples, lists or dicts); ``second_order`` holds ``hessian`` and the Jacobians of an inner
transform; ``vmap`` holds ``vmap``.
"""
