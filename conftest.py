"""Lines every test run must show, such as the counts of the fault matrix, kill and resume, bad inputs and secret
leaks: the `report_line` fixture prints them past output capture. Under pytest-xdist a worker's terminal is not
shown, so a worker's lines travel to the controller with the next report it sends (`report.user_properties`) and
are printed there."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

USER_PROPERTY = "report_line"


class _ReportLines:
    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._in_worker = hasattr(config, "workerinput")
        self._pending: list[str] = []

    def write(self, text: str) -> None:
        if self._in_worker:
            self._pending.append(text)
            return
        plugins = self._config.pluginmanager
        with plugins.getplugin("capturemanager").global_and_fixture_disabled():
            plugins.getplugin("terminalreporter").write_line(text)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        report.user_properties.extend((USER_PROPERTY, text) for text in self._pending)
        self._pending.clear()
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self._in_worker:
            for name, text in report.user_properties:
                if name == USER_PROPERTY:
                    self.write(text)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_ReportLines(config), "report-lines")


@pytest.fixture(scope="session")
def report_line(pytestconfig: pytest.Config) -> Callable[[str], Any]:
    """Prints a line into the run's output, past output capture, wherever the test runs."""
    return pytestconfig.pluginmanager.get_plugin("report-lines").write
