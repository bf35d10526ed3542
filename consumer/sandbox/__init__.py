"""The IO sandbox: an HTTP server that answers like IO's services API for io-relay's calls.

It validates bodies with io-relay's own IO models, enforces the gateway's rate limit, can
inject latency and faults, and records every accepted message so tests can count them.
For Premium messages it also keeps remote-content configurations, stands in for a public
body's document store, and replays IO's backend opening a message against the sender's
content server.
Used by the demo, the integration tests and the benchmarks; never in production.
"""

from consumer.sandbox.app import SandboxApp, create_app
from consumer.sandbox.profiles_file import ProfilesFile, load_profiles_file
from consumer.sandbox.server import serve
from consumer.sandbox.settings import FaultKind, RateLimitPolicy, SandboxSettings

__all__ = [
    "FaultKind",
    "ProfilesFile",
    "RateLimitPolicy",
    "SandboxApp",
    "SandboxSettings",
    "create_app",
    "load_profiles_file",
    "serve",
]
