"""The "web" command: text a one-time sign-in link for the reminders page, or end every session ("web off").

The reply carrying the link is an ordinary ``reply`` row; once it is sent (or fails for good)
bot.storage.lifecycle.forget_sign_in_link scrubs the token from it, so the raw token lives only
on the person's phone and, hashed, in ``web_tokens``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.language import wording
from bot.language.commands import Web
from bot.storage import web_access

if TYPE_CHECKING:  # handlers imports this module for its table
    from bot.conversation.handlers import HandlerContext

LINK_MINUTES = int(web_access.SIGN_IN_TTL.total_seconds() // 60)


def handle_web(command: Web, ctx: "HandlerContext") -> str:
    """Reply with a sign-in link, or sign every browser of the sender out."""
    if command.off:
        return wording.web_sessions_ended(web_access.end_sessions(ctx.session, ctx.sender, ctx.now))
    base_url = ctx.settings.public_base_url
    if not base_url:
        return wording.web_not_set_up()
    token = web_access.issue_sign_in(ctx.session, ctx.sender, ctx.now, ctx.settings.web_links_per_hour)
    if token is None:
        return wording.web_link_limit(ctx.settings.web_links_per_hour)
    return wording.web_link(web_access.sign_in_url(base_url, token), LINK_MINUTES)
