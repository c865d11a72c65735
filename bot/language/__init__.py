"""Reading text messages and writing the bot's replies: the parser, time phrases, repeat phrases, wording."""
