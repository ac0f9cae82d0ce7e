"""Cleaning stage: trafilatura extraction, known boilerplate patterns, per-site template
learning, metadata and quality gates. ``extract_page`` runs per page (in worker processes);
``finish_source`` runs once per source over all of its pages of a run."""

from crawlers.clean.boilerplate import load_rules, remove_boilerplate
from crawlers.clean.extract import EXTRACTOR, Extracted, extract_page
from crawlers.clean.finish import CleanOptions, article_id, finish_source
from crawlers.clean.templates import TemplateState

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
