"""The REST API's domain: scheduled messages as programs see them."""
