# _micronn as a MicroPython user C module for CMake-based ports (esp32, rp2):
#   make -C ports/rp2 USER_C_MODULES=/path/to/micronn/ulab_ext/micropython.cmake
# or include() this file from your own top-level USER_C_MODULES cmake file next to ulab's.
add_library(usermod_micronn INTERFACE)

file(GLOB MICRONN_KERNELS ${CMAKE_CURRENT_LIST_DIR}/kernels/*.c)

target_sources(usermod_micronn INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/micronn_binding.c
    ${MICRONN_KERNELS}
)

target_include_directories(usermod_micronn INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

target_link_libraries(usermod INTERFACE usermod_micronn)
