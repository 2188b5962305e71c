# MicroPython manifest that freezes the micronn device package into a firmware build
# (docs/building.md, "Frozen into the firmware"). Give it to the port's make, e.g.
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/this/manifest.py
# or include() it from a board's own manifest. The port's usual frozen modules come first.
# ruff: noqa: F821 - include() and package() are defined by MicroPython's manifest reader
include("$(PORT_DIR)/boards/manifest.py")
package("micronn")  # the micronn folder beside this file
