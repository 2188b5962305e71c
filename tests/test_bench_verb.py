"""`micronn bench` on a virtual board prints one row per backend (us per predict from the board's
ticks_us, peak heap, weights); `simulate --time` prints the same table from the VM."""

import re

from serial_helpers import model_bytes

from micronn.bench import BenchRow, bench_table, parse_rows
from micronn.cli import main
from micronn.virtual_board import VirtualBoard

ROW = re.compile(r"^(python|viper)\s+([\d,]+)\s+([\d.]+x)\s+([\d.]+) KiB of (\d+) KiB\s+ram")


def _rows(out):
    return {m.group(1): m for m in map(ROW.match, out.splitlines()) if m}


def test_bench_on_a_virtual_board_prints_the_table(tmp_path, capsys):
    model = tmp_path / "m.mnq"
    model.write_bytes(model_bytes(tmp_path, (16, 24, 6), seed=2))
    with VirtualBoard("rp2040") as board:
        assert main(["bench", str(model), "--port", board.port]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert set(rows) == {"python", "viper"}, out
    assert rows["python"].group(3) == "1.0x" and 180 <= int(rows["python"].group(5)) <= 192
    assert all(int(row.group(2).replace(",", "")) > 0 for row in rows.values())
    assert "us/predict" in out and "peak heap" in out


def test_simulate_time_prints_the_table_from_the_vm(tmp_path, capsys):
    import numpy as np

    model = tmp_path / "m.mnq"
    model.write_bytes(model_bytes(tmp_path, (16, 24, 6), seed=2))
    np.save(tmp_path / "x.npy", np.zeros((1, 16), np.int8))
    args = ["simulate", str(model), "--input", str(tmp_path / "x.npy"), "--time"]
    assert main(args + ["--board", "esp32"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == {"python", "viper"} and 90 <= int(rows["viper"].group(5)) <= 100


def test_failed_backends_are_rows_with_the_reason():
    failed = '["c", "ValueError: backend c needs _micronn"]'
    rows = parse_rows(f'noise\n{failed}\n["python", 50.0, 1000, "ram", 2048]\n')
    assert rows[0] == BenchRow("c", 0.0, 0, "", 0, "ValueError: backend c needs _micronn")
    table = bench_table(rows)
    assert "ValueError" in table[1] and table[2].split()[:3] == ["python", "50", "1.0x"]
