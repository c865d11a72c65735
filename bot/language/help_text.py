"""The help SMS: the grammar in brief, with examples, in two GSM-7 segments at most.

Built from the command table (bot.language.grammar), so a command and its help line are one row.
Plain ASCII keeps the message in GSM-7, where two segments hold 306 characters. Only STOP is
offered as a bare keyword: a bare CANCEL or END is a carrier opt-out, so cancelling is "delete <id>".
"""

from __future__ import annotations

from bot.language.grammar import help_text

HELP_TEXT = help_text()
