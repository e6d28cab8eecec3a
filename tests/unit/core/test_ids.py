"""Host-generated ids: the documented shapes, 128 random bits for capabilities, never repeated,
and never shared between a parent and a forked child (the random pool is dropped on fork)."""

from __future__ import annotations

import os
import re

from aesp.core import ids


def test_shapes() -> None:
    assert re.fullmatch(r"inv-[0-9a-f]{32}", ids.invocation_id())
    assert re.fullmatch(r"sess-[0-9a-f]{32}", ids.session_id())
    assert re.fullmatch(r"conn-[0-9a-f]{32}", ids.connection_id())
    assert re.fullmatch(r"host-\d+-[0-9a-f]{8}", ids.correlation_id())


def test_ids_do_not_repeat_across_many_pool_refills() -> None:
    made = {ids.invocation_id() for _ in range(20_000)}  # about 80 refills of the pool
    assert len(made) == 20_000


def test_a_forked_child_draws_fresh_bytes() -> None:
    ids.invocation_id()  # the parent's pool holds unread bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        os.write(write, ids.invocation_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child != ids.invocation_id()
    assert re.fullmatch(r"inv-[0-9a-f]{32}", child)
