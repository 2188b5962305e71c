"""Ctrl-C while boards are busy: stop every board session at once, cleanly, from any thread.

Each job runs in a daemon thread and gets a `stop` Event, which its transport checks between
frames (Transport.check_stop). The main thread only waits, in short slices, so Ctrl-C reaches
it at once; it then sets `stop`, gives the workers INTERRUPT_GRACE seconds to end their
sessions (the board agent is told to stop; an upload's PATH.part stays on the board, so the
next flash resumes), and raises KeyboardInterrupt. A worker still busy after that (mpy-cross,
a board that does not answer) is abandoned: its thread is a daemon and its port is closed by
the operating system when micronn exits.
"""

import threading
import time

INTERRUPT_GRACE = 1.0  # seconds the workers get to end their sessions after Ctrl-C
JOIN_SLICE = 0.1  # seconds the main thread waits at a time


def run_interruptibly(jobs) -> list:
    """[job(stop) for job in jobs], each in its own thread; a job's exception is raised here
    (the first, in order) once all have finished."""
    stop = threading.Event()
    finished = [threading.Event() for _ in jobs]
    outcomes = [None] * len(jobs)

    def work(index, job):
        try:
            outcomes[index] = (True, job(stop))
        except BaseException as error:  # handed to the main thread, which raises it
            outcomes[index] = (False, error)
        finally:
            finished[index].set()

    for index, job in enumerate(jobs):
        name = f"board-{index}"
        threading.Thread(target=work, args=(index, job), name=name, daemon=True).start()
    # Event.wait, not Thread.join: a join interrupted by Ctrl-C can mark a running thread as
    # finished (CPython before 3.13), and the sessions would then not be ended.
    try:
        for done in finished:
            while not done.wait(JOIN_SLICE):
                pass
    except KeyboardInterrupt:
        stop.set()
        deadline = time.monotonic() + INTERRUPT_GRACE
        for done in finished:
            done.wait(max(0.0, deadline - time.monotonic()))
        raise
    results = []
    for succeeded, value in outcomes:
        if not succeeded:
            raise value
        results.append(value)
    return results
