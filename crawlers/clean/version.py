"""The cleaning's version, as every Article records it (``extractor``): trafilatura's release
and this cleaning's own, read without importing trafilatura (the flow process, which builds
the Articles, does not load the extractor its workers run)."""

from importlib.metadata import version

CLEAN_VERSION = 6  # bump when the cleaning gives different text or metadata for the same page
EXTRACTOR = f"trafilatura {version('trafilatura')} + newsdedup-clean {CLEAN_VERSION}"
