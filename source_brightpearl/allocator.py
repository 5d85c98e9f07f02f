"""Keeps a long `read` from holding on to memory it has freed.

Each ID-set GET brings a body of up to ~1 MB (200 orders) that is parsed and freed at once. glibc's
malloc raises its mmap threshold to the size of the largest block freed so far, so after the first
body every later one is carved out of the heap, between small long-lived objects, and the freed space
is rarely given back: peak RSS grew with the number of orders (bench/memory.py, bench/PROFILE.md).
A fixed threshold keeps such buffers in their own mappings, returned to the OS when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# <malloc.h>: M_MMAP_THRESHOLD; setting it also turns off glibc's dynamic raising of it.
_M_MMAP_THRESHOLD = -3
# glibc's own starting value: blocks from 128 KiB on get their own mapping.
_MMAP_THRESHOLD_BYTES = 128 * 1024


def return_large_buffers_to_the_os() -> None:
    """Fix glibc's mmap threshold; a no-op where the C library is not glibc (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
