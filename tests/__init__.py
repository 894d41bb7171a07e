"""tiket's test suite (a package, so tests can import tests.servers)."""
