"""Downloader middlewares of the crawl (the network guard lives in crawlers.guard)."""

from crawlers.guard import NetworkGuardMiddleware

__all__ = ["NetworkGuardMiddleware"]
