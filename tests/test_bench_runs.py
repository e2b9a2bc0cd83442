"""`benchmarks/run.py --quick --only <workload>` runs to the end and prints its summary. It asserts no
timing (a benchmark is not a test): only that the workload ran, checked its gradients against the
hand-written adjoint, and wrote nothing into docs/."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_bench(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def docs_state():
    paths = [os.path.join(ROOT, "docs", name) for name in ("performance.md", "bench.png")]
    return [os.path.getmtime(p) if os.path.exists(p) else None for p in paths]


@pytest.mark.bench
def test_quick_run_of_one_small_workload():
    before = docs_state()
    done = run_bench("--quick", "--rounds", "2", "--only", "ode")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "ERROR" not in out and "Traceback" not in out, out
    assert "ode: GradBench-style ODE" in out
    summary = out[out.index("Summary"):]
    assert any(line.split()[:1] == ["ode"] for line in summary.splitlines()), summary
    assert docs_state() == before  # --only never rewrites the docs


def test_list_and_unknown_workloads():
    done = run_bench("--list")
    assert done.returncode == 0
    keys = [line.split()[0] for line in done.stdout.splitlines()]
    assert {"a", "b", "c", "d", "e", "f10k", "f40k", "lstm", "ode"} <= set(keys)
    done = run_bench("--only", "no-such-workload")
    assert done.returncode != 0 and "unknown workloads" in done.stderr
