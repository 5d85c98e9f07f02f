"""The garbage collector tuned for the connector's processes (cdk_import.lightened, run._collect_less_during_the_command):
no collections while the CDK is imported, the collector left as it was found after, and a command's start-up frozen
(in a fresh interpreter, as the console script runs it)."""

from __future__ import annotations

import gc

import pytest

from source_brightpearl.cdk_import import lightened
from source_brightpearl.run import OBJECTS_BETWEEN_YOUNG_COLLECTIONS
from unit_tests.builders import probe


@pytest.mark.parametrize("collecting", [True, False], ids=["collector on", "collector off"])
def test_given_the_collector_on_or_off_when_the_cdk_is_imported_then_it_is_off_during_the_import_and_as_it_was_after(
    collecting: bool,
) -> None:
    if not collecting:
        gc.disable()
    try:
        with lightened():
            during = gc.isenabled()
        after = gc.isenabled()
    finally:
        gc.enable()

    assert (during, after) == (False, collecting)


def test_given_a_command_when_it_has_started_then_its_start_up_is_frozen_and_young_objects_are_collected_less_often() -> (
    None
):
    answer = probe(
        """
        import gc, sys
        from source_brightpearl.run import run
        sys.argv = ["source-brightpearl", "spec"]
        unfrozen_before = len(gc.get_objects())
        run()
        print(gc.get_freeze_count() >= unfrozen_before, len(gc.get_objects()) < unfrozen_before / 10, gc.get_threshold()[0])
        """
    )

    assert answer == ["True", "True", str(OBJECTS_BETWEEN_YOUNG_COLLECTIONS)]
