"""Cleaning stage: trafilatura extraction, known boilerplate patterns, per-site template
learning, metadata and quality gates. ``extract_page`` runs per page (in worker processes);
``finish_source`` runs once per source over all of its pages of a run.

``extract_page`` loads trafilatura, which the flow process (it only finishes sources and
keeps templates) never needs: it is imported when first asked for."""

from typing import TYPE_CHECKING, Any

from crawlers.clean.boilerplate import load_rules, remove_boilerplate
from crawlers.clean.extracted import Extracted
from crawlers.clean.finish import CleanOptions, article_id, finish_source
from crawlers.clean.templates import TemplateState
from crawlers.clean.version import EXTRACTOR

if TYPE_CHECKING:
    from crawlers.clean.extract import extract_page

__all__ = [
    "EXTRACTOR",
    "CleanOptions",
    "Extracted",
    "TemplateState",
    "article_id",
    "extract_page",
    "finish_source",
    "load_rules",
    "remove_boilerplate",
]


def __getattr__(name: str) -> Any:
    if name == "extract_page":
        from crawlers.clean.extract import extract_page

        return extract_page
    raise AttributeError(f"module 'crawlers.clean' has no attribute {name!r}")
