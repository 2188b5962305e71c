# micronn board agent, model part: LOAD, PREDICT and INPUT. Runs on the board (MicroPython),
# imported by the core (board_agent.py) at the first of these requests, once the files part is gone:
# `model_request(agent, kind, payload)` answers one. LOAD takes the net the launcher loaded
# before the agent was imported (agent.preload) when it names the same file and backend.
#
# What the agent keeps besides the net: the output of one row and the reply of one frame, no
# bigger than the rows of one frame need. An input row is read in place from the request frame;
# a row longer than a frame comes in parts (INPUT) straight into the net's input tensor, and a
# PREDICT without payload runs it.
# ruff: noqa: F821
import gc
import struct
from array import array

if "Failed" not in globals():  # installed as a module (pasted, the core's is defined above)
    from micronn_agent import Failed, _count


def _load(a, p):
    if a.net is not None:
        a.net.close()
        a.net = None
    a.y = a.reply = None
    backend = str(p[1 : 1 + p[0]], "utf-8")
    path = str(p[1 + p[0] :], "utf-8")
    pre = a.preload
    a.preload = None
    if pre is not None and pre[0] == path and pre[1] == backend:
        net = pre[2]  # loaded by the launcher, before the agent took its heap
        if isinstance(net, Exception):
            raise net
    else:
        if hasattr(pre and pre[2], "close"):
            pre[2].close()
        pre = None
        gc.collect()
        import micronn

        try:
            net = micronn.load(path, backend)
        except MemoryError:  # weights in RAM seemed to fit the free heap: stream them
            gc.collect()
            net = micronn.load(path, backend, "stream")
    if hasattr(net, "inputs"):  # only a net of several inputs or outputs has net.inputs
        net.close()
        raise Failed(
            "this model has several inputs or outputs; micronn run takes one of each: use "
            "micronn simulate, or net.predict((a, b), (y1, y2)) on the board"
        )
    n_in = _count(net.input_shape)
    n_out = _count(net.output_shape)
    rows = min(a.size // n_in, a.size // n_out)  # the most a frame carries either way
    a.y = array("b", bytes(n_out))
    a.reply = bytearray(max(rows, 1) * n_out)
    a.net = net
    head = struct.pack(
        "<fifiBB",
        net.input_scale,
        net.input_zero_point,
        net.output_scale,
        net.output_zero_point,
        len(net.input_shape),
        len(net.output_shape),
    )
    for d in tuple(net.input_shape) + tuple(net.output_shape):
        head += struct.pack("<H", d)
    head += net.backend.encode() + b"\0" + getattr(net, "weights", "").encode()
    labels = getattr(net, "labels", None)  # the class names, when they fit the frame
    if labels:
        text = "\0".join(labels).encode()
        if len(head) + 1 + len(text) <= a.size:
            head += b"\0" + text
    return head


def _predict(a, p):
    net = a.net
    if net is None:
        raise Failed("no model loaded")
    y = a.y
    n_in = _count(net.input_shape)
    n_out = len(y)
    reply = a.reply
    if not len(p):  # the row staged in net.input by INPUT requests
        net.predict(net.input, y)
        reply[0:n_out] = y
        return memoryview(reply)[0:n_out]
    rows = len(p) // n_in
    if rows * n_in != len(p) or rows * n_out > len(reply):
        raise Failed("bad input frame")
    for i in range(rows):
        net.predict(p[i * n_in : (i + 1) * n_in], y)
        reply[i * n_out : (i + 1) * n_out] = y
    return memoryview(reply)[0 : rows * n_out]


def _input(a, p):
    net = a.net
    if net is None:
        raise Failed("no model loaded")
    x = net.input
    at = struct.unpack_from("<I", p)[0] if len(p) >= 4 else -1
    if at < 0 or at + len(p) - 4 > len(x):
        raise Failed("bad input part")
    x[at : at + len(p) - 4] = p[4:]
    return b""


def model_request(a, kind, p):
    if kind == _LOAD:
        return _load(a, p)
    if kind == _INPUT:
        return _input(a, p)
    return _predict(a, p)
