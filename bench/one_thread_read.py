"""The connector's `orders` stream read in one thread, without the CDK's concurrent reader: a diagnosis for
bench/throughput.py, not a way the connector runs.

    python bench/one_thread_read.py CONFIG

The stream is the one `read` builds: its partitions (the search, its ID sets), its retriever and its cursor.
Each record is observed by the cursor and written to stdout as the RECORD line `read` writes, through the
output `read` writes through (BrightpearlOutput), and each partition is closed once read. What it leaves out
is the CDK's concurrent reader: its threads, its queue and the main thread's work on each message. So, set
beside `read` and the bare loop, it says how much of the gap is that reader and how much the stream's own
path (bench/PROFILE.md). Records only: no state, status or log lines but one, written once the source is built,
as `read` writes its first message then.
"""

from __future__ import annotations

import sys

# First, as in `read`: the package imports the CDK in its lighter way (source_brightpearl/cdk_import.py).
# The process settings `run` makes before a command (garbage collection, malloc), so that only the reader differs.
from source_brightpearl.run import (
    BrightpearlEntrypoint,
    BrightpearlOutput,
    _collect_less_during_the_command,
    _give_parse_buffers_back,
)
from source_brightpearl.source import SourceBrightpearl

# isort: split
from airbyte_cdk.sources.utils.record_helper import stream_data_to_airbyte_message

BUILT_LINE = '{"type":"LOG","log":{"level":"INFO","message":"built"}}\n'


def main() -> None:
    source = SourceBrightpearl(config=SourceBrightpearl.read_config(sys.argv[1]))
    _collect_less_during_the_command()
    _give_parse_buffers_back()
    with BrightpearlOutput().in_place_of_print_buffer() as output:  # in a few large writes, as `read`'s
        output.write(BUILT_LINE)
        [stream] = source._streams_by_name(["orders"])
        cursor = stream.cursor
        for partition in stream.generate_partitions():
            for record in partition.read():
                cursor.observe(record)
                message = stream_data_to_airbyte_message(record.stream_name, record.data)
                output.write_line(BrightpearlEntrypoint.airbyte_message_to_string(message))
            cursor.close_partition(partition)


if __name__ == "__main__":
    main()
