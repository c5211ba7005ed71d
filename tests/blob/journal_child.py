"""A process that writes through a journaled LocalBlobStore and then dies without closing it,
as a crash would: `python -m tests.blob.journal_child ROOT SEGMENT_BYTES OPS_JSON`.

OPS_JSON is a list of ["put", key, text], ["put_bytes", key, length] (`length` bytes of a pattern),
["delete", key], ["settle"] (wait for the journal's background work: rotations checkpointed) and
["stall_checkpoints"] (checkpoints from then on never finish, as when the process dies first).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading

from spyglass.store.blob import LocalBlobStore, LocalUrlSigner
from spyglass.store.blob import journal as journal_module


def pattern(length: int) -> bytes:
    return (b"0123456789abcdef" * (length // 16 + 1))[:length]


async def main(root: str, segment_bytes: int, ops: list[list[object]]) -> None:
    store = LocalBlobStore(
        root,
        name="events",
        signer=LocalUrlSigner(b"k" * 32, "http://127.0.0.1:1"),
        journal=True,
        journal_segment_bytes=segment_bytes,
    )
    await store.ensure_bucket()
    assert store.journal is not None
    loop = asyncio.get_running_loop()
    await store.put("warm-up", b"")  # starts the journal
    await loop.run_in_executor(None, store.journal.wait_idle)
    assert store.journal.running
    for op in ops:
        if op[0] == "put":
            await store.put(str(op[1]), str(op[2]).encode())
        elif op[0] == "put_bytes":
            await store.put(str(op[1]), pattern(int(op[2])))  # type: ignore[call-overload]
        elif op[0] == "delete":
            await store.delete(str(op[1]))
        elif op[0] == "settle":
            await loop.run_in_executor(None, store.journal.wait_idle)
        elif op[0] == "stall_checkpoints":
            journal_module.sync_files = lambda root, rels: threading.Event().wait()
    sys.stdout.write("done\n")
    sys.stdout.flush()
    os._exit(0)  # no close: the journal is left as a crash leaves it


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])))
