"""The board agent (on the MicroPython VM, behind a real pty) after a request frame that was cut
short: it drops only that frame and answers the ones that follow, and a host that dies in the
middle of a frame does not leave the board stuck for the next one."""

import time

import pytest

from micronn import framing
from micronn.remote import describe
from micronn.transport_serial import SerialTransport
from micronn.virtual_board import VirtualBoard

ANSWER_WAIT = 2.0  # seconds: the VM answers in milliseconds; GAP_MS is 0.2 s
DECLARED = 1000  # payload bytes the cut frame's header announces
SENT = 10  # payload bytes that actually come


@pytest.fixture
def board():
    with VirtualBoard("rp2040") as vb:
        (vb.folder / "note.txt").write_bytes(b"hello")
        yield vb


def _cut_frame(seq):
    return framing.encode(framing.LIST, seq, b"x" * DECLARED)[: framing.HEADER_SIZE + SENT]


def _good_frames(first_seq):
    return [
        framing.encode(framing.INFO, first_seq),
        framing.encode(framing.LIST, first_seq + 1, b""),
        framing.encode(framing.READ, first_seq + 2, b"note.txt"),
    ]


def _replies(transport, count, wait=ANSWER_WAIT) -> dict:
    """{seq: frame} of the first `count` replies that come within `wait` seconds."""
    reader = framing.FrameReader()
    replies = {}
    deadline = time.monotonic() + wait
    while len(replies) < count and time.monotonic() < deadline:
        reader.feed(transport.read_some(0.05))
        frame = reader.next_frame()
        while frame is not None:
            replies[frame.seq] = frame
            frame = reader.next_frame()
    return replies


def _assert_answered(replies, first_seq):
    assert replies[first_seq].kind == framing.REPLY | framing.INFO
    assert replies[first_seq + 1].kind == framing.REPLY | framing.LIST
    assert b"note.txt" in replies[first_seq + 1].payload
    assert replies[first_seq + 2].kind == framing.REPLY | framing.READ
    assert replies[first_seq + 2].payload == b"hello"


def test_frames_right_after_a_cut_frame_are_answered(board):
    with SerialTransport(board.port) as transport, transport.session():
        transport.write(_cut_frame(50) + b"".join(_good_frames(51)))
        replies = _replies(transport, 4)
    assert replies[50].kind == framing.NAK  # the cut frame: send it again
    _assert_answered(replies, 51)


def test_a_frame_after_a_silence_is_answered(board):
    with SerialTransport(board.port) as transport, transport.session():
        transport.write(_cut_frame(60))
        time.sleep(0.5)  # longer than the agent's GAP_MS: the cut frame is given up
        transport.write(b"".join(_good_frames(61)))
        replies = _replies(transport, 4)
    assert replies[60].kind == framing.NAK
    _assert_answered(replies, 61)


def test_a_host_that_dies_mid_frame_leaves_a_usable_board(board):
    transport = SerialTransport(board.port)
    session = transport.session()
    session.start()
    transport.write(_cut_frame(70))
    transport.close()  # gone without a word, as a killed process would be
    started = time.monotonic()
    report = describe(board.port)
    assert report.info.implementation == "micropython"
    assert time.monotonic() - started < 5.0
