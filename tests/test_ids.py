"""Reminder ids: the right shape, every character equally likely in every position, never a time."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.ids import ALPHABET, ID_LENGTH, is_valid_id, new_id, reads_as_time


def test_ids_are_valid_and_use_the_whole_alphabet_evenly_in_every_position():
    ids = [new_id() for _ in range(36_000)]
    assert all(len(reminder_id) == ID_LENGTH and is_valid_id(reminder_id) for reminder_id in ids)
    expected = len(ids) / len(ALPHABET)  # 1,000; a standard deviation of about 31
    for position in range(ID_LENGTH):
        counts = Counter(reminder_id[position] for reminder_id in ids)
        assert set(counts) == set(ALPHABET), position
        assert all(0.8 * expected < count < 1.2 * expected for count in counts.values()), (position, counts)
    assert len(set(ids)) > len(ids) - 5  # 36**6 ids: a repeat among 36,000 is rare


@pytest.mark.parametrize("candidate, expected", [
    ("123456", True), ("11939m", True), ("12days", True), ("1234wk", True), ("10000s", True), ("1month", True),
    ("k3x9ab", False), ("1a2b3c", False), ("abcdef", False), ("12dayz", False), ("m12345", False),
])
def test_what_reads_as_a_time(candidate: str, expected: bool):
    assert reads_as_time(candidate) is expected


def test_no_id_is_drawn_that_reads_as_a_time():
    # About 1 draw in 1,300 has that shape: 50,000 draws would hold some 40 of them unfiltered.
    assert not [reminder_id for reminder_id in (new_id() for _ in range(50_000)) if reads_as_time(reminder_id)]
