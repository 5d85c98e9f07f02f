"""A command's parse buffers given their own mappings, given back to the system when freed
(run._give_parse_buffers_back), in a fresh interpreter as the console script runs."""

from __future__ import annotations

import ctypes
import os

import pytest

from unit_tests.builders import probe

HAS_MALLINFO2 = os.name == "posix" and hasattr(ctypes.CDLL(None), "mallinfo2")

# Whether a block the size of orjson's buffer for a 200-order body (10 MB) gets a mapping of its own, after a
# larger block was freed (which makes glibc's own threshold rise above it), counted by glibc's `mallinfo2`.
OWN_MAPPING_AFTER_A_LARGER_FREE = """
    import ctypes, sys
    {start}
    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.free.argtypes, libc.mallinfo2.restype = ctypes.c_void_p, [ctypes.c_void_p], Mallinfo2
    libc.free(libc.malloc(16 * 2**20))
    mapped_before = libc.mallinfo2().hblks
    block = libc.malloc(10 * 2**20)
    print(libc.mallinfo2().hblks - mapped_before)
    libc.free(block)
"""
COMMAND_STARTED = 'from source_brightpearl.run import run\n    sys.argv = ["source-brightpearl", "spec"]\n    run()'


def _own_mapping(start: str) -> bool:
    return probe(OWN_MAPPING_AFTER_A_LARGER_FREE.format(start=start)) == ["1"]


@pytest.mark.skipif(not HAS_MALLINFO2, reason="glibc's allocator (mallinfo2, glibc 2.33 on) is what is tuned")
def test_given_a_command_started_when_a_parse_buffer_is_allocated_then_it_has_a_mapping_of_its_own() -> None:
    assert _own_mapping(COMMAND_STARTED)


@pytest.mark.skipif(not HAS_MALLINFO2, reason="glibc's allocator (mallinfo2, glibc 2.33 on) is what is tuned")
def test_given_glibc_untuned_when_a_parse_buffer_follows_a_larger_free_then_it_is_cut_from_the_heap() -> None:
    # What the first test would see without the tuning, so that it can fail.
    assert not _own_mapping("")
