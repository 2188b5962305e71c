"""Which serial port is the board: the candidates `micronn devs` lists, and the one a command
uses when it is given no --port (as mpremote's `connect auto` does, but refusing to guess
between two).

Candidates are USB serial ports (serial.tools.list_ports: a port with a USB vendor and product
id), the known MicroPython boards and USB-UART bridges named, and the virtual boards that
`micronn virtual-board` runs: each writes a small file into the registry folder
($MICRONN_VIRTUAL_BOARDS, else the user's cache folder) while it runs, since a pty is no USB
device that list_ports could see.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

REGISTRY_ENV = "MICRONN_VIRTUAL_BOARDS"

# USB vendor id -> maker; (vendor, product) -> what it is (boards that run MicroPython over USB,
# and the USB-UART bridges of ESP32 development boards)
USB_MAKERS = {
    0x2E8A: "Raspberry Pi",
    0x303A: "Espressif",
    0xF055: "MicroPython",
    0x239A: "Adafruit",
    0x10C4: "Silicon Labs",
    0x1A86: "WCH",
    0x0403: "FTDI",
}
USB_PRODUCTS = {
    (0x2E8A, 0x0005): "MicroPython board (RP2040 / RP2350)",
    (0x303A, 0x1001): "ESP32-S3 / C3 USB serial (MicroPython)",
    (0x303A, 0x4001): "ESP32-S2 / S3 native USB (MicroPython)",
    (0xF055, 0x9800): "MicroPython pyboard",
    (0xF055, 0x9802): "MicroPython board",
    (0x10C4, 0xEA60): "CP210x USB-UART (ESP32 boards)",
    (0x1A86, 0x7523): "CH340 USB-UART (ESP32 boards)",
    (0x1A86, 0x55D4): "CH9102 USB-UART (ESP32 boards)",
    (0x0403, 0x6001): "FTDI USB-UART",
    (0x0403, 0x6015): "FTDI USB-UART",
}
MICROPYTHON_VENDORS = (0x2E8A, 0x303A, 0xF055, 0x239A)


@dataclass(frozen=True)
class Candidate:
    port: str
    description: str
    kind: str  # "usb" (a known MicroPython board or bridge, or any USB serial) or "virtual"
    known: bool = False  # a vendor/product that runs MicroPython or carries an ESP32's UART


def registry_folder() -> Path:
    explicit = os.environ.get(REGISTRY_ENV)
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "micronn" / "virtual-boards"


def register_virtual_board(port: str, board: str, folder) -> Path:
    """Note a running virtual board in the registry; returns the entry to remove when it stops."""
    registry = registry_folder()
    registry.mkdir(parents=True, exist_ok=True)
    entry = registry / f"{os.getpid()}-{Path(port).name}.json"
    record = {"port": port, "board": board, "pid": os.getpid(), "folder": str(folder)}
    entry.write_text(json.dumps(record))
    return entry


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def virtual_boards() -> list:
    """The registered virtual boards that still run (stale entries are removed)."""
    found = []
    registry = registry_folder()
    for entry in sorted(registry.glob("*.json")) if registry.is_dir() else []:
        try:
            record = json.loads(entry.read_text())
            port, board, pid = record["port"], record["board"], int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not _alive(pid) or not Path(port).exists():
            entry.unlink(missing_ok=True)
            continue
        found.append(Candidate(port, f"virtual {board} board (micronn virtual-board)", "virtual"))
    return found


def _describe_usb(info) -> tuple:
    known = (info.vid, info.pid) in USB_PRODUCTS or info.vid in MICROPYTHON_VENDORS
    what = USB_PRODUCTS.get((info.vid, info.pid))
    if what is None:
        maker = USB_MAKERS.get(info.vid, "USB serial")
        product = info.product or info.description or "device"
        what = f"{maker}: {product}"
    return f"{what} [{info.vid:04x}:{info.pid:04x}]", known


def usb_ports() -> list:
    """USB serial ports, the known MicroPython boards and bridges first."""
    try:
        from serial.tools import list_ports
    except ImportError:  # pyserial without its tools
        return []
    found = []
    for info in sorted(list_ports.comports(), key=lambda p: p.device):
        if info.vid is None or info.pid is None:
            continue  # a built-in UART (ttyS0) or a Bluetooth port: not a board's USB
        description, known = _describe_usb(info)
        found.append(Candidate(info.device, description, "usb", known))
    return sorted(found, key=lambda c: not c.known)


def candidates() -> list:
    """Every port that may be a MicroPython board: USB serial ports, then virtual boards."""
    return usb_ports() + virtual_boards()


def choose_port(found=None) -> str:
    """The one candidate port; ValueError listing them when there are none or several."""
    found = candidates() if found is None else found
    if len(found) == 1:
        return found[0].port
    if not found:
        raise ValueError(
            "no MicroPython board found: connect one by USB, or give --port PORT "
            "(a serial port, socket://HOST:PORT or rfc2217:// URL)"
        )
    listed = "; ".join(f"{c.port} ({c.description})" for c in found)
    raise ValueError(f"{len(found)} boards found: {listed}; choose one with --port")
