from __future__ import annotations

import pytest

from mock_server.idsets import IdSetError, chunks, format_id_set, parse_id_set


def test_given_ranges_lists_and_dots_when_parsed_then_ids_keep_their_order_without_duplicates():
    assert parse_id_set("8") == [8]
    assert parse_id_set("3-5,1.9,4") == [3, 4, 5, 1, 9]


@pytest.mark.parametrize("text", ["", "7-3", "0", "a", "1,,2", "-5", "1-99999999"])
def test_given_an_invalid_id_set_when_parsed_then_id_set_error(text):
    with pytest.raises(IdSetError):
        parse_id_set(text)


def test_given_ids_when_formatted_then_runs_become_ranges():
    assert format_id_set([5, 1, 2, 3, 9, 10]) == "1-3,5,9-10"
    assert parse_id_set(format_id_set(range(1, 500, 3))) == list(range(1, 500, 3))


def test_given_450_ids_when_chunked_by_200_then_three_chunks():
    assert [len(chunk) for chunk in chunks(list(range(450)), 200)] == [200, 200, 50]
