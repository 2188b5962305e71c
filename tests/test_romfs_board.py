"""A board whose runtime and models are in its ROMFS image (micronn romfs), as a virtual board
that mounts the image at /rom (and /rom/lib ahead of lib on the path, as a board does): `micronn
flash` installs no runtime in lib/ (it would never run) and refuses a board whose image holds
another one, `ls` and `info` list the image's models, `run` finds them by name or as the
only model, and `rm` refuses them (the image is read-only)."""

import numpy as np
import pytest
from reference_models import digits_mlp

from micronn import container, fit, reference
from micronn.cli import main
from micronn.flash import flash
from micronn.precompiled import vm_mpy_target
from micronn.remote import describe, list_models, remove_model, run
from micronn.romfs import build_image
from micronn.runtime import STAMP_PATH
from micronn.runtime_export import romfs_files
from micronn.simulate import find_micropython
from micronn.virtual_board import VirtualBoard


@pytest.fixture(scope="module")
def models():
    first, second = digits_mlp(1), digits_mlp(2)
    return first, second


def _inputs(model, seed):
    return np.random.default_rng(seed).integers(-128, 128, (2, *model.input.shape)).astype(np.int8)


def test_a_board_runs_the_models_and_the_runtime_of_its_romfs_image(models, tmp_path, capsys):
    in_rom, on_fs = models
    target = vm_mpy_target(find_micropython())
    image = build_image(romfs_files(target, {"kept": container.write(in_rom)}))
    (tmp_path / "flashed.mnq").write_bytes(container.write(on_fs))
    with VirtualBoard("rp2040", folder=tmp_path / "board", romfs=image) as board:
        [entry] = list_models(board.port)
        assert (entry.name, entry.in_rom) == ("kept.mnq", True)
        x = _inputs(in_rom, 1)
        result = run(board.port, x)  # the only model: the image's
        assert result.board_path == "/rom/models/kept.mnq"
        np.testing.assert_array_equal(result.outputs, reference.run(in_rom, x))

        report = flash(board.port, tmp_path / "flashed.mnq", name="flashed")
        assert report.runtime.in_rom and not report.runtime.installed
        assert not (tmp_path / "board" / "lib" / "micronn").exists()
        report = describe(board.port)
        assert {(e.name, e.in_rom) for e in report.models} == {
            ("kept.mnq", True),
            ("flashed.mnq", False),
        }
        assert report.rom_runtime.startswith("micronn ") and not report.info.runtime_stamp
        assert main(["info", "--port", board.port]) == 0
        assert "ROMFS image:  micronn " in capsys.readouterr().out
        assert main(["ls", "--port", board.port]) == 0
        assert "ROMFS" in capsys.readouterr().out

        y = _inputs(on_fs, 2)
        by_name = run(board.port, y, model="flashed")
        assert by_name.board_path == "models/flashed.mnq"
        np.testing.assert_array_equal(by_name.outputs, reference.run(on_fs, y))
        assert run(board.port, x, model="kept").board_path == "/rom/models/kept.mnq"
        with pytest.raises(ValueError, match="ROMFS image, which is read-only"):
            remove_model(board.port, "kept")


def test_flash_refuses_a_board_whose_image_holds_another_runtime(models, tmp_path):
    """The board imports the image's runtime ahead of lib/ (mp_init() puts /rom/lib on the
    path before the port adds /lib), so flash cannot update it there: another version in the
    image, or --force-runtime, is refused with what to do, and nothing is written."""
    in_rom, on_fs = models
    target = vm_mpy_target(find_micropython())
    files = romfs_files(target, {"kept": container.write(in_rom)})
    (tmp_path / "flashed.mnq").write_bytes(container.write(on_fs))
    same = build_image(files)
    other = build_image({**files, STAMP_PATH: b"micronn 0.0.1 an older one"})
    for image, force in ((other, False), (same, True)):
        folder = tmp_path / f"board-{force}"
        with VirtualBoard("rp2040", folder=folder, romfs=image) as board:
            with pytest.raises(ValueError, match="imports micronn from its ROMFS image") as error:
                flash(board.port, tmp_path / "flashed.mnq", force_runtime=force)
            assert "mpremote romfs deploy" in str(error.value)
            assert not (folder / "lib" / "micronn").exists()
            assert not (folder / "models" / "flashed.mnq").exists()


def test_flash_plans_the_runtime_of_the_board_s_romfs_image(models, tmp_path, monkeypatch):
    """flash's heap check plans the runtime the board imports: where its ROMFS image holds one,
    that one (bytecode in flash: runtime "romfs", several KB less heap), not the .mpy files
    flash would install in lib/. (The unix VM keeps the image in its heap, so its reported heap
    holds the image too: the check's plan is compared here, not a refusal.)"""
    in_rom, on_fs = models
    (tmp_path / "flashed.mnq").write_bytes(container.write(on_fs))
    planned, real = [], fit.fit_problem

    def recording(data, board, runtime="mpy", name="the model"):
        planned.append(runtime)
        return real(data, board, runtime, name)

    monkeypatch.setattr(fit, "fit_problem", recording)
    image = build_image(
        romfs_files(vm_mpy_target(find_micropython()), {"kept": container.write(in_rom)})
    )
    for folder, romfs in (("rom", image), ("bare", None)):
        with VirtualBoard("rp2040", folder=tmp_path / folder, romfs=romfs) as board:
            assert main(["flash", str(tmp_path / "flashed.mnq"), "--port", board.port]) == 0
    assert planned == ["romfs", "mpy"]
