"""The SMS conversation: an inbound message, its command, its reply."""
