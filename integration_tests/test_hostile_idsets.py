"""ID sets and state against a hostile Brightpearl: `source-brightpearl read` processes (connector_process)
through a loopback proxy (hostile.py) in front of the mock, over real sockets.

Each silent-loss case ends one of two ways: the sync exits 0 with a clean sync's records, or it fails
as transient and a resumed sync, from the states the first one emitted, delivers what it did not. IDs
the server never returns are the exception the connector owns up to: counted and named as gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration_tests import connector_process
from integration_tests import hostile as behave
from integration_tests.connector_process import ConnectorRun, Keys, account_token_config, add_keys, missing_and_extra
from integration_tests.hostile import HostileServer, Rule
from mock_server.testing import MockServer

pytestmark = pytest.mark.hostile

ORDERS = 250  # two ID sets of orders
ORDER_ID_SET = "order-service/order/"
ORDER_SEARCH = "order-service/order-search"
FUTURE = "2031-05-04T10:00:00.000+01:00"
AN_ORDER, ANOTHER_ORDER = 100007, 100011


def read(work_dir: Path, config: dict[str, Any], states: dict[str, Any] | None = None) -> ConnectorRun:
    """connector_process.read, and no secret in anything the run printed."""
    run = connector_process.read(work_dir, config, states)
    secret = config["credentials"]["account_token"]
    assert secret not in "\n".join(run.lines) + run.stderr, "the account token leaked into the output"
    return run


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(orders=ORDERS) as server:
        yield server


@pytest.fixture(scope="module")
def clean_run(mock: MockServer, tmp_path_factory: pytest.TempPathFactory) -> ConnectorRun:
    run = read(tmp_path_factory.mktemp("clean"), account_token_config(mock))
    assert run.exit_code == 0, run.errors()
    return run


@pytest.fixture(scope="module")
def clean(clean_run: ConnectorRun) -> Keys:
    return clean_run.records()


def _cursors(run: ConnectorRun) -> dict[str, Any]:
    """Each stream's last state without the CDK's timing field: where its next sync starts."""
    return {
        name: {key: value for key, value in state.items() if key != "lookback_window"}
        for name, state in run.carry_states({}).items()
    }


@pytest.fixture
def proxy(mock: MockServer) -> Iterator[HostileServer]:
    with HostileServer(mock.base_url) as server:
        yield server


def _through(proxy: HostileServer, mock: MockServer) -> dict[str, Any]:
    return {**account_token_config(mock), "api_domain": proxy.base_url}


def _failure_types(run: ConnectorRun) -> set[str]:
    return {error["failure_type"] for error in run.errors()}


def _warnings(run: ConnectorRun) -> list[str]:
    return [message["log"]["message"] for message in run.of_type("LOG") if message["log"]["level"] == "WARN"]


def _without(clean: Keys, order_id: int) -> Keys:
    expected = {name: set(keys) for name, keys in clean.items()}
    expected["orders"].discard((order_id,))
    expected["order_rows"] = {key for key in expected["order_rows"] if key[0] != order_id}
    return expected


def _fails_as_transient_then_resumes(proxy: HostileServer, mock: MockServer, tmp_path: Path, rule: Rule) -> Keys:
    """A sync through `rule` must fail as transient (its closing trace too); returns what a destination
    holds once a resumed sync without the rule has run from the first one's states."""
    config = _through(proxy, mock)
    proxy.add(rule)
    first = read(tmp_path / "first", config)
    assert proxy.fired(rule) > 0
    assert first.exit_code != 0
    assert _failure_types(first) == {"transient_error"}, first.errors()
    proxy.clear()
    resumed = read(tmp_path / "resumed", config, first.carry_states({}))
    assert resumed.exit_code == 0, resumed.errors()
    delivered = first.committed_records()
    add_keys(delivered, resumed.committed_records())
    return delivered


def _orders_rewritten(transform: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Any], Any]:
    """A rewrite of an order GET's body that changes only its list of orders."""
    return lambda body: {**body, "response": transform(body["response"])}


def test_given_an_order_get_answering_response_null_when_a_sync_runs_then_it_fails_as_transient_and_resumes_whole(
    mock, clean, proxy, tmp_path
):
    rule = Rule(path=ORDER_ID_SET, behaviour=behave.rewrite_json(lambda body: {"response": None}))

    delivered = _fails_as_transient_then_resumes(proxy, mock, tmp_path, rule)

    assert missing_and_extra(clean, delivered) == {}


def test_given_an_order_get_answering_a_json_string_when_a_sync_runs_then_it_fails_as_transient_and_resumes_whole(
    mock, clean, proxy, tmp_path
):
    rule = Rule(path=ORDER_ID_SET, behaviour=behave.rewrite_json(lambda body: "Service temporarily unavailable"))

    delivered = _fails_as_transient_then_resumes(proxy, mock, tmp_path, rule)

    assert missing_and_extra(clean, delivered) == {}


def test_given_an_order_get_answering_an_html_page_when_a_sync_runs_then_it_fails_as_transient_and_resumes_whole(
    mock, clean, proxy, tmp_path
):
    rule = Rule(path=ORDER_ID_SET, behaviour=behave.respond(200, "<html><body>Please sign in</body></html>"))

    delivered = _fails_as_transient_then_resumes(proxy, mock, tmp_path, rule)

    assert missing_and_extra(clean, delivered) == {}


def test_given_orders_left_out_of_their_first_answer_when_a_sync_runs_then_they_are_asked_again_and_delivered(
    mock, clean, clean_run, proxy, tmp_path
):
    left_out: set[int] = set()

    def leave_out_once(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        dropped = {record["id"] for record in orders} & {AN_ORDER, ANOTHER_ORDER} - left_out
        left_out.update(dropped)
        return [record for record in orders if record["id"] not in dropped]

    proxy.add(Rule(path=ORDER_ID_SET, behaviour=behave.rewrite_json(_orders_rewritten(leave_out_once)), count=None))
    run = read(tmp_path, _through(proxy, mock))

    assert left_out == {AN_ORDER, ANOTHER_ORDER}
    assert run.exit_code == 0, run.errors()
    assert missing_and_extra(clean, run.records()) == {}
    assert _cursors(run) == _cursors(clean_run)
    asked_again = [seen.path_qs for seen in proxy.seen if f"{ORDER_ID_SET}{AN_ORDER},{ANOTHER_ORDER}?" in seen.path_qs]
    assert asked_again, "the two orders left out are asked for again, in one GET"


def test_given_an_order_never_returned_when_a_sync_runs_then_it_is_logged_as_gone_with_a_count_and_the_sync_succeeds(
    mock, clean, proxy, tmp_path
):
    never = behave.rewrite_json(_orders_rewritten(lambda orders: [r for r in orders if r["id"] != AN_ORDER]))
    proxy.add(Rule(path=ORDER_ID_SET, behaviour=never, count=None))
    run = read(tmp_path, _through(proxy, mock))

    assert run.exit_code == 0, run.errors()
    assert missing_and_extra(_without(clean, AN_ORDER), run.records()) == {}
    gone = [warning for warning in _warnings(run) if "not returned, twice: deleted since the search" in warning]
    assert gone and all(
        warning.startswith(("orders: 1 of ", "order_rows: 1 of ")) and f"({AN_ORDER})" in warning for warning in gone
    )


def test_given_an_answer_holding_other_ids_when_a_sync_runs_then_no_record_of_them_is_emitted_and_the_orders_arrive(
    mock, clean, clean_run, proxy, tmp_path
):
    def other_ids(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**record, "id": record["id"] + 10_000_000} for record in orders]

    proxy.add(Rule(path=ORDER_ID_SET, behaviour=behave.rewrite_json(_orders_rewritten(other_ids))))
    run = read(tmp_path, _through(proxy, mock))

    assert run.exit_code == 0, run.errors()
    assert missing_and_extra(clean, run.records()) == {}
    assert _cursors(run) == _cursors(clean_run)
    assert any("records for IDs not asked for" in warning for warning in _warnings(run))


def test_given_a_search_id_that_is_a_url_path_when_a_sync_runs_then_it_never_reaches_a_url_and_the_stream_fails_naming_it(
    mock, clean, proxy, tmp_path
):
    path = "../../integration-service/webhook"

    def with_a_path_as_id(body: dict[str, Any]) -> dict[str, Any]:
        columns = [column["name"] for column in body["response"]["metaData"]["columns"]]
        body["response"]["results"][0][columns.index("orderId")] = path
        return body

    rule = Rule(path=ORDER_SEARCH, behaviour=behave.rewrite_json(with_a_path_as_id))
    delivered = _fails_as_transient_then_resumes(proxy, mock, tmp_path, rule)

    assert missing_and_extra(clean, delivered) == {}
    assert not [seen.path_qs for seen in proxy.seen if "webhook" in seen.path_qs]


def test_given_every_order_get_answering_400_when_a_sync_runs_then_it_fails_as_transient_and_the_resumed_sync_delivers_all(
    mock, clean, proxy, tmp_path
):
    rejected = behave.respond(400, {"errors": [{"code": "ORDC-001", "message": "Resources could not be loaded"}]})
    rule = Rule(path=ORDER_ID_SET, behaviour=rejected, count=None)

    delivered = _fails_as_transient_then_resumes(proxy, mock, tmp_path, rule)

    assert missing_and_extra(clean, delivered) == {}


def test_given_an_order_rejected_in_every_get_when_the_next_sync_runs_without_the_fault_then_it_is_asked_again_and_delivered(
    mock, clean, proxy, tmp_path
):
    def reject_the_order(exchange: behave.Exchange) -> None:
        if str(AN_ORDER) in exchange.seen.path_qs:
            behave.respond(400, {"errors": [{"code": "ORDC-001", "message": "Resources could not be loaded"}]})(
                exchange
            )
        else:
            behave.passthrough(exchange)

    config = _through(proxy, mock)
    proxy.add(Rule(path=ORDER_ID_SET, behaviour=reject_the_order, count=None))
    first = read(tmp_path / "first", config)
    proxy.clear()
    second = read(tmp_path / "second", config, first.carry_states({}))

    assert first.exit_code == 0, first.errors()
    assert missing_and_extra(_without(clean, AN_ORDER), first.records()) == {}
    assert first.carry_states({})["orders"]["parent_state"]["ids_to_retry"] == [AN_ORDER]
    assert second.exit_code == 0, second.errors()
    assert (AN_ORDER,) in second.records()["orders"]
    assert any(key[0] == AN_ORDER for key in second.records()["order_rows"])
    assert second.carry_states({})["orders"]["parent_state"]["ids_to_retry"] == []


def _future_cursors(state: Any) -> Iterator[str]:
    """Every cursor value of a state, as a string."""
    if isinstance(state, dict):
        for key, value in state.items():
            if key in ("updatedOn", "dateAdded") and isinstance(value, str):
                yield value
            else:
                yield from _future_cursors(value)


def _with_cursors(state: Any, value: str) -> Any:
    if isinstance(state, dict):
        return {
            key: value if key in ("updatedOn", "dateAdded") else _with_cursors(item, value)
            for key, item in state.items()
        }
    return state


def test_given_an_order_updated_in_the_future_when_two_syncs_run_then_the_state_stops_at_the_start_and_the_second_finds_a_later_change(
    clean, tmp_path
):
    with MockServer(orders=ORDERS) as own_mock:
        config = account_token_config(own_mock)
        own_mock.mutate(resource="order", action="update", id=AN_ORDER, changes={"updatedOn": FUTURE}, touch=False)
        first = read(tmp_path / "first", config)
        changed = own_mock.mutate(resource="order", action="update", id=ANOTHER_ORDER, changes={"reference": "later"})
        second = read(tmp_path / "second", config, first.carry_states({}))

    assert first.exit_code == 0, first.errors()
    assert missing_and_extra(clean, first.records()) == {}
    assert not [cursor for cursor in _future_cursors(first.carry_states({})) if cursor.startswith("2031")]
    assert any(
        warning.startswith(f"Stream 'orders' record {AN_ORDER} has updatedOn {FUTURE}") for warning in _warnings(first)
    )
    assert second.exit_code == 0, second.errors()
    assert (ANOTHER_ORDER,) in second.records()["orders"], f"the change at {changed['updatedOn']} is found"


def test_given_a_state_in_the_future_when_a_sync_runs_then_it_reads_from_now_and_the_next_sync_finds_a_later_change(
    tmp_path,
):
    with MockServer(orders=ORDERS) as own_mock:
        config = account_token_config(own_mock)
        clean_run = read(tmp_path / "clean", config)
        future_states = _with_cursors(clean_run.carry_states({}), "2031-01-01T00:00:00+0000")
        from_the_future = read(tmp_path / "future", config, future_states)
        own_mock.mutate(resource="order", action="update", id=ANOTHER_ORDER, changes={"reference": "later"})
        after = read(tmp_path / "after", config, from_the_future.carry_states(future_states))

    assert from_the_future.exit_code == 0, from_the_future.errors()
    assert any(
        warning.startswith("The state of stream 'orders' has ") and "which is in the future" in warning
        for warning in _warnings(from_the_future)
    )
    assert not [
        cursor for cursor in _future_cursors(from_the_future.carry_states(future_states)) if cursor.startswith("2031")
    ]
    assert (ANOTHER_ORDER,) in after.records()["orders"]


def test_given_a_state_whose_cursor_has_an_odd_format_when_a_sync_runs_then_it_is_a_config_error_naming_the_stream(
    mock, tmp_path
):
    states = {
        "orders": {
            "use_global_cursor": True,
            "state": {"updatedOn": "last Tuesday"},
            "parent_state": {"order_search": {"updatedOn": "last Tuesday"}},
        }
    }
    run = read(tmp_path, account_token_config(mock), states)

    assert run.exit_code == 1
    assert [(error["failure_type"], error.get("stack_trace")) for error in run.errors()] == [("config_error", None)]
    assert "The state of stream 'orders' has " in run.errors()[0]["message"]
    assert "'last Tuesday', which is not a date-time" in run.errors()[0]["message"]
    assert "Traceback" not in run.stderr
