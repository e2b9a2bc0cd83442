"""The public transforms, built on the compiler's generated code.

``grad`` holds ``grad``, ``value_and_grad``, ``vjp`` and the shared argument checks; ``jacobians`` holds
``jvp``, ``jacrev``, ``jacfwd`` and ``hessian``; ``vmap`` holds ``vmap``.
"""
