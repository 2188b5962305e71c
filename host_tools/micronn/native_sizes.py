"""Bytes of each viper module's .mpy per native arch: an upper bound of the native
code a board that keeps native code in its GC heap holds for it (docs/memory.md).
Written by tools/native_sizes.py; tests/test_native_sizes.py checks it is current."""

VIPER_MPY_BYTES = {
    "armv6m": {
        "viper_add": 1715,
        "viper_broadcast": 2727,
        "viper_conv": 6763,
        "viper_dense": 2086,
        "viper_input": 354,
        "viper_lut": 362,
        "viper_pool": 2447,
        "viper_probe": 139,
        "viper_reduce": 889,
        "viper_requant": 1721,
        "viper_resize": 1623,
        "viper_softmax": 1850,
    },
    "armv7em": {
        "viper_add": 1561,
        "viper_broadcast": 2527,
        "viper_conv": 6387,
        "viper_dense": 1960,
        "viper_input": 312,
        "viper_lut": 332,
        "viper_pool": 2287,
        "viper_probe": 117,
        "viper_reduce": 833,
        "viper_requant": 1553,
        "viper_resize": 1527,
        "viper_softmax": 1736,
    },
    "armv7emsp": {
        "viper_add": 1561,
        "viper_broadcast": 2527,
        "viper_conv": 6387,
        "viper_dense": 1960,
        "viper_input": 312,
        "viper_lut": 332,
        "viper_pool": 2287,
        "viper_probe": 117,
        "viper_reduce": 833,
        "viper_requant": 1553,
        "viper_resize": 1527,
        "viper_softmax": 1736,
    },
}
