"""Websites as sources (``assistant crawl``): addresses and links (:mod:`.urls`), fetching with
limits (:mod:`.fetch`), robots.txt (:mod:`.robots`), sitemaps (:mod:`.sitemaps`), main text and
metadata (:mod:`.extract`), the ``corpus/web/`` folder and its sidecars (:mod:`.store`), and the
crawl itself (:mod:`.crawl`)."""

from .crawl import Change, CrawlOptions, CrawlReport, SkippedUrl, crawl
from .fetch import KINDS
from .store import META_KEYS, META_SUFFIX, WEB_FOLDER

__all__ = [
    "KINDS",
    "META_KEYS",
    "META_SUFFIX",
    "WEB_FOLDER",
    "Change",
    "CrawlOptions",
    "CrawlReport",
    "SkippedUrl",
    "crawl",
]
