"""Board profiles: how much RAM and flash a MicroPython board offers, read from boards/*.json."""

import json
from dataclasses import dataclass

from micronn.resources import boards_dir

DEFAULT_BOARD = "rp2040"
REQUIRED_FIELDS = (
    "name",
    "description",
    "mpy_arch",
    "heap_bytes",
    "filesystem_bytes",
    "default_baud",
    "notes",
    "sources",
)
SOURCED_FIGURES = ("mpy_arch", "heap_bytes", "filesystem_bytes", "default_baud")


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    mpy_arch: str  # mpy-cross -march value for native code on this board
    heap_bytes: int  # MicroPython GC heap budget
    filesystem_bytes: int
    default_baud: int
    notes: tuple
    sources: dict  # figure name -> where the figure comes from
    flash_micropython: str = ""
    aliases: tuple = ()  # other names --board takes: "pico" for rp2040, ...
    # the ROMFS partition of the firmware the profile names (0: none), None where unknown
    romfs_bytes: int | None = None
    # the live heap at the board's prompt before micronn (measured on a connected board:
    # board_heap.board_profile); None: the VM's, as memory_plan's figures hold it (SCRIPT)
    start_bytes: int | None = None

    @property
    def word_bits(self) -> int:
        """The machine word of the board's MicroPython (memory_plan's figures): 32 for every
        arch mpy-cross emits for a board, 64 for x64 and rv64imc."""
        return 64 if self.mpy_arch in ("x64", "rv64imc") else 32


def list_boards() -> list:
    """Names of all known boards, sorted."""
    return sorted(path.stem for path in boards_dir().glob("*.json"))


def _read_profile(name: str) -> dict:
    return json.loads((boards_dir() / f"{name}.json").read_text(encoding="utf-8"))


def board_aliases() -> dict:
    """alias -> profile name, from each profile's "aliases"."""
    return {
        alias: name for name in list_boards() for alias in _read_profile(name).get("aliases", ())
    }


def board_for_machine(machine: str):
    """The profile whose "machine_words" (e.g. "RP2040") name the board's os.uname().machine
    ("Raspberry Pi Pico with RP2040"), the longest word winning; None when none does."""
    text = machine.upper()
    best, length = None, 0
    for name in list_boards():
        for word in _read_profile(name).get("machine_words", ()):
            if word.upper() in text and len(word) > length:
                best, length = name, len(word)
    return best


def load_board(name: str) -> Board:
    """The profile of board `name` or of an alias ("pico"); ValueError listing the valid names
    if there is none."""
    names = list_boards()
    if name not in names:
        aliases = board_aliases()
        if name.lower() not in aliases:
            known = ", ".join(names + sorted(aliases))
            raise ValueError(f"unknown board {name!r}; choose one of: {known}")
        name = aliases[name.lower()]
    path = boards_dir() / f"{name}.json"
    data = _read_profile(name)
    missing = [field for field in REQUIRED_FIELDS if field not in data]
    unsourced = [figure for figure in SOURCED_FIGURES if figure not in data.get("sources", {})]
    if missing or unsourced:
        raise ValueError(f"board profile {path} lacks {missing or unsourced}; fix the file")
    return Board(
        name=data["name"],
        description=data["description"],
        mpy_arch=data["mpy_arch"],
        heap_bytes=int(data["heap_bytes"]),
        filesystem_bytes=int(data["filesystem_bytes"]),
        default_baud=int(data["default_baud"]),
        notes=tuple(data["notes"]),
        sources=dict(data["sources"]),
        flash_micropython=data.get("flash_micropython", ""),
        aliases=tuple(data.get("aliases", ())),
        romfs_bytes=_romfs_bytes(data, path),
    )


def _romfs_bytes(data: dict, path) -> int | None:
    if "romfs_bytes" not in data:
        return None
    if "romfs_bytes" not in data["sources"]:
        raise ValueError(f"board profile {path} lacks a source for romfs_bytes; fix the file")
    return int(data["romfs_bytes"])
