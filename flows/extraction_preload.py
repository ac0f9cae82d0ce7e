"""Imported by the fork server the extraction workers are forked from (see
flows.extraction.ExtractionPool): it loads the extractor and cleans a small page once, so that
each worker starts with trafilatura loaded and set up rather than doing both itself."""

from flows.extraction import warm_up

warm_up()
