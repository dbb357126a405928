"""robots.txt, read once per origin with the standard library's parser: allow and disallow for
the assistant's User-Agent and ``*``, Crawl-delay, and the sitemaps it names.

As RFC 9309 says: a robots.txt that is missing (any 4xx) allows everything; one that cannot be
fetched (5xx, timeout, no connection) forbids everything on that host for this run, so nothing
is fetched against the site's will and nothing already stored is removed.
"""

from __future__ import annotations

from urllib.robotparser import RobotFileParser

from .fetch import Fetcher, Unfetchable
from .urls import origin_of

MAX_ROBOTS_BYTES = 500_000


class Robots:
    """The robots.txt rules of every origin the crawl touches, fetched on first use."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self._rules: dict[str, RobotFileParser | Unfetchable] = {}

    def _load(self, origin: str) -> RobotFileParser | Unfetchable:
        """The parsed rules, or why the whole origin is off limits."""
        found = self._rules.get(origin)
        if found is not None:
            return found
        url = origin + "/robots.txt"
        try:
            response = self.fetcher.get(url)
        except Unfetchable as exc:  # no connection, no answer in time: the host is down, not forbidding
            result: RobotFileParser | Unfetchable = Unfetchable(exc.kind, f"{exc.reason}, Host übersprungen")
        else:
            rules = RobotFileParser(url)
            if response.status == 200:
                text = response.body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")
                rules.parse(text.splitlines())
                delay = rules.crawl_delay(self.fetcher.user_agent)
                if delay is not None:
                    self.fetcher.extra_delay[origin] = float(delay)
                result = rules
            elif 400 <= response.status < 500:
                rules.parse([])  # no robots.txt: everything is allowed
                result = rules
            else:
                result = Unfetchable("robots", f"robots.txt nicht abrufbar (HTTP {response.status}), Host übersprungen")
        self._rules[origin] = result
        return result

    def check(self, url: str) -> None:
        """Raise :class:`Unfetchable` ("robots") when robots.txt forbids ``url`` to the assistant."""
        rules = self._load(origin_of(url))
        if isinstance(rules, Unfetchable):
            raise Unfetchable(rules.kind, rules.reason)
        if not rules.can_fetch(self.fetcher.user_agent, url):
            raise Unfetchable("robots", "robots.txt verbietet den Abruf")

    def sitemaps(self, origin: str) -> list[str]:
        """The sitemaps robots.txt names for ``origin`` (may be empty)."""
        rules = self._load(origin)
        return [] if isinstance(rules, Unfetchable) else list(rules.site_maps() or [])
