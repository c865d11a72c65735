"""HTTP entry points: thin translations between requests and the ``bot`` domain."""
