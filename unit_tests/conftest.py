import pytest


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """Retries back off with time.sleep; the tests only care that they happen."""
    monkeypatch.setattr("time.sleep", lambda seconds: None)
