"""Tools for the people who build io-relay, not part of the service (see each module)."""
