"""net.top(): the indices of the largest items of an output, allocation-free.

Imported by the first net.top(). The work is split into small functions because a call
whose frame is big (many locals, a deep stack) puts that frame on the heap.
"""

from array import array


def top(net, out, k, into):
    """Net.top (net.py)."""
    return _rank(out, _buffer(net, out, k, into), k)


def _buffer(net, out, k, into):
    if k < 1 or k > len(out) or (into is not None and len(into) < k):
        _refuse(out, k, into)
    if into is not None:
        return into
    own = getattr(net, "_top", None)  # set by the first call: nets without top() lack it
    if own is None or len(own) != k:
        own = net._top = array("H", bytes(2 * k))
    return own


def _refuse(out, k, into):
    if not 1 <= k <= len(out):
        raise ValueError(f"k must be 1..{len(out)} (the items of out), got {k}")
    raise ValueError(f"into must hold at least k={k} items, got {len(into)}")


def _rank(out, into, k):
    for rank in range(k):
        _place(out, into, rank)
    return into


def _place(out, into, rank):
    """into[rank] = the index of the largest item of out not among into[:rank] (the lowest)."""
    best = -1
    for i in range(len(out)):
        if best < 0 or out[i] > out[best]:
            if not _taken(into, rank, i):
                best = i
    into[rank] = best


def _taken(into, rank, i):
    for r in range(rank):
        if into[r] == i:
            return True
    return False
