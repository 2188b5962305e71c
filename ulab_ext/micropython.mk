# _micronn as a MicroPython user C module for make-based ports (unix, ...):
#   make -C ports/unix USER_C_MODULES=/path/to/micronn/ulab_ext
# (give the folder that holds this file, or a parent of it; see docs/building.md)
MICRONN_MOD_DIR := $(USERMOD_DIR)

SRC_USERMOD_C += $(MICRONN_MOD_DIR)/micronn_binding.c
SRC_USERMOD_LIB_C += $(wildcard $(MICRONN_MOD_DIR)/kernels/*.c)

CFLAGS_USERMOD += -I$(MICRONN_MOD_DIR)
