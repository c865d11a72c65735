"""Reminder ids: the right shape, and every character equally likely in every position."""

from __future__ import annotations

from collections import Counter

from bot.ids import ALPHABET, ID_LENGTH, is_valid_id, new_id


def test_ids_are_valid_and_use_the_whole_alphabet_evenly_in_every_position():
    ids = [new_id() for _ in range(36_000)]
    assert all(len(reminder_id) == ID_LENGTH and is_valid_id(reminder_id) for reminder_id in ids)
    expected = len(ids) / len(ALPHABET)  # 1,000; a standard deviation of about 31
    for position in range(ID_LENGTH):
        counts = Counter(reminder_id[position] for reminder_id in ids)
        assert set(counts) == set(ALPHABET), position
        assert all(0.8 * expected < count < 1.2 * expected for count in counts.values()), (position, counts)
    assert len(set(ids)) > len(ids) - 5  # 36**6 ids: a repeat among 36,000 is rare
