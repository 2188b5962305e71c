"""A MicroPython VM that runs a script as a board with a ROMFS partition would: the image
mounted at /rom and /rom/lib on `sys.path` (first: a board puts them ahead of /lib too).

The unix VM has no flash, so the image lives in its heap: one bytearray, allocated before
anything else and filled in place. A board's image is in flash, so every live-heap figure
taken on that VM leaves out `held_bytes(image)`, and its heap is made that much larger than the
board's (its heap cannot grow); the words of the image are scanned as pointers there, which may
keep a dead block live. The webassembly port mounts an image itself, outside its heap, as a
board's firmware does (wasm_vm.run's romfs): its figures need neither.
"""

from pathlib import Path

IMAGE_NAME = "micronn.romfs"  # in the VM's working folder
MOUNT = """\
import gc, sys, vfs
_romfs = bytearray({size})  # a board's image is in flash: host figures leave these bytes out
with open({name!r}, "rb") as _file:
    _file.readinto(_romfs)
vfs.mount(vfs.VfsRom(_romfs), "/rom")
sys.path.insert(0, "/rom/lib")
del _romfs, _file
gc.collect()
"""


def held_bytes(image_size: int, block: int) -> int:
    """Heap bytes of the image's bytearray on a VM whose GC blocks are `block` bytes: the
    object and its data, each rounded up to whole blocks."""
    return block + -(-image_size // block) * block


def script_on_romfs(work: Path, script: Path, image: bytes) -> Path:
    """Write `image` and a copy of `script` that mounts it first into `work`; returns the copy
    (run it in `work`, with `script`'s folder on the VM's path if it imports its neighbours)."""
    (work / IMAGE_NAME).write_bytes(image)
    mounted = work / f"_romfs_{Path(script).name}"
    prelude = MOUNT.format(size=len(image), name=IMAGE_NAME)
    mounted.write_text(prelude + Path(script).read_text(encoding="utf-8"), encoding="utf-8")
    return mounted


def on_vm(work: Path, script: Path, image: bytes, in_heap_block: int | None) -> tuple:
    """How a VM runs `script` with `image` mounted at /rom: (the script to run, the image file
    that the webassembly port mounts itself or None, the heap bytes the image takes there).
    in_heap_block: None for the webassembly port, which keeps the image outside its heap
    (wasm_vm.run's romfs); else the VM's GC block: the image is a bytearray in its heap, mounted
    by a copy of the script (script_on_romfs)."""
    if in_heap_block is None:
        (work / IMAGE_NAME).write_bytes(image)
        return Path(script), work / IMAGE_NAME, 0
    return script_on_romfs(work, script, image), None, held_bytes(len(image), in_heap_block)
