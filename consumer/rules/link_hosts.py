"""Which hosts a rule's `link()` may lead to.

The URL comes from the event, and the link text from the rule: a citizen trusts the text, so
the host must be one the operator named, in `rules.allowed_link_hosts` or the rule's own
`allowed_link_hosts`. `comune.it` allows that host only; `*.comune.it` its subdomains.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from consumer.rules.helpers import SafeMarkdown, link, link_host

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_PATTERN = rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})*$"
"""An allowed host as written in configuration: lower case, no scheme, port or path."""

Link = Callable[[str, str], SafeMarkdown]


def check_host(host: str) -> str:
    """`host` as configured, or a ValueError that says what is wrong with it."""
    if not re.fullmatch(HOST_PATTERN, host):
        raise ValueError(
            f"{host!r} is not a host name: write it lower case, without scheme, port or path "
            "(e.g. comune.example.it, or *.comune.example.it for its subdomains)"
        )
    if host.startswith("*.") and "." not in host[2:]:
        raise ValueError(f"{host!r} would trust a whole top-level domain: name the body's own")
    return host


@dataclass(frozen=True, slots=True)
class LinkHosts:
    hosts: frozenset[str]

    @classmethod
    def of(cls, *lists: Iterable[str]) -> LinkHosts:
        return cls(frozenset(check_host(host) for hosts in lists for host in hosts))

    def allows(self, host: str) -> bool:
        if host in self.hosts:
            return True
        parts = host.split(".")
        return any("*." + ".".join(parts[i:]) in self.hosts for i in range(1, len(parts)))

    def link(self) -> Link:
        """The rule's `link(url, text)`: the helper, refusing every host not allowed."""

        def link_to_allowed_host(url: str, text: str) -> SafeMarkdown:
            made = link(url, text)
            host = link_host(url)
            if not self.allows(host):
                raise ValueError(
                    f"link() to {host}: not an allowed link host (add it to "
                    "rules.allowed_link_hosts or to the rule's allowed_link_hosts)"
                )
            return made

        return link_to_allowed_host
