"""The name pools (micronn.qstr_pools): the law the planner counts them by is the VMs' own, and
the names the planner counts per stage are those the runner sees interned, within a few."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from reference_models import MODELS
from vm import vm_params

from micronn import container, memory_plan, qstr_pools
from micronn.memory_figures import figures
from micronn.simulate import simulate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from measure_memory import measure_qstr_pool  # noqa: E402

WORD_BITS = {"unix": 64, "wasm32": 32}
NAME_SLACK = 24  # names the planner may count beyond the runner's: a name two kernel modules share
# is counted in each (net.py, which interns many of them, now comes after the kernels)
NAME_SHORTFALL = 6  # and fewer (viper_input's, which load() imports for the net's input)


def test_pools_double_from_the_first():
    pool, block = (20, 11, 64), 32
    one = -(-(64 + 11 * 20) // block) * block
    two = one + -(-(64 + 11 * 40) // block) * block
    assert qstr_pools.pools_bytes(0, pool, block) == 0
    assert qstr_pools.pools_bytes(20, pool, block) == one
    assert qstr_pools.pools_bytes(21, pool, block) == two
    assert qstr_pools.pools_bytes(60, pool, block) == two
    assert qstr_pools.added_bytes(61, 60, pool, block) == -(-(64 + 11 * 80) // block) * block
    assert qstr_pools.added_bytes(50, 60, pool, block) == 0


@pytest.mark.parametrize("vm", vm_params())
def test_the_vm_grows_its_pools_as_the_figures_say(vm):
    with tempfile.TemporaryDirectory() as scratch:
        measured = measure_qstr_pool(vm, Path(scratch))
    assert measured == figures(WORD_BITS[vm]).QSTR_POOL, "run: tools/measure_memory.py --write"


@pytest.mark.parametrize("runtime", ("py", "mpy"))
@pytest.mark.parametrize("vm", vm_params())
def test_the_planner_counts_the_names_each_stage_interns(vm, runtime):
    backends = ("python", "viper") if vm == "unix" else ("python",)
    for name in ("digits_mlp", "speech_cnn"):
        data = container.write(MODELS[name]())
        model = container.read(data)
        x = np.zeros(model.input.shape, np.int8)
        for backend in backends:
            result = simulate(
                data, x, board="rp2350", backend=backend, precompiled=runtime == "mpy", vm=vm
            )
            counted = memory_plan.qstr_counts(model, backend, runtime, figures(WORD_BITS[vm]))
            for stage, count in counted.items():
                seen = result.qstr_stages[stage]
                case = (name, backend, stage, seen, count)
                assert seen - NAME_SHORTFALL <= count <= seen + NAME_SLACK, case
