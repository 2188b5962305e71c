"""The heap of the pools that hold a VM's interned names (qstrs), for the memory planner.

MicroPython interns every name that code it compiles or loads uses (identifiers, attribute and
module names) and never frees one. The names live in pools: when the last pool is full, the
next name allocates a pool twice its size (the first holds QSTR_POOL's `first` names). So a heap
step of several KB (the pool of 640 names: 7,104 B with 8-byte words, 4,512 B with 4-byte ones)
lands in whichever stage interns the name that fills a pool, whatever that stage's own objects
are. The planner counts the names each stage has interned (the measured QSTRS and MODULE_QSTRS)
and adds the pools those counts need beyond the ones `import micronn` left (in IMPORT already).

The law was read from micropython.qstr_info() on the unix and webassembly ports
(tools/measure_memory.py measures it); a firmware with other frozen modules starts from another
first pool.
"""


def pools_bytes(count: int, pool: tuple, block: int) -> int:
    """The heap, in GC blocks of `block` bytes, of the pools holding `count` dynamic names;
    pool: (names in the first pool, bytes per name, bytes of a pool's header)."""
    first, per_name, head = pool
    total = held = 0
    size = first
    while held < count:
        total += -(-(head + per_name * size) // block) * block
        held += size
        size *= 2
    return total


def added_bytes(count: int, start: int, pool: tuple, block: int) -> int:
    """The pools' heap that `count` names need beyond the pools of the first `start`."""
    return pools_bytes(count, pool, block) - pools_bytes(min(start, count), pool, block)
