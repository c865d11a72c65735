"""Sending: the dispatcher, the timer that wakes it, the SMS providers, the outbound rate limit."""
