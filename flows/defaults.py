"""Defaults that several modules use, each spelled once: whoever needs one imports it here.

No project imports, so anything (the CLI before it loads Prefect, the storage layer) can.
"""

# The output root when none is given (``--output``, ``NEWSDEDUP_OUTPUT``, the seeds file).
DEFAULT_OUTPUT = "./data/lake"

# Hard limit for one crawl process, in seconds: past it the process is killed.
CRAWL_TIMEOUT = 900.0

# The cleaning's quality gate: a page with fewer words is no article. (crawlers.clean's
# CleanOptions has the same default for callers of the library: crawlers import no flows.)
MIN_WORDS = 80

# Exit statuses of the ``newsdedup`` commands.
EXIT_OK = 0
EXIT_FAILED = 1  # a run or stage failed (the message says which)
EXIT_BAD_INPUT = 2  # seeds file, arguments, configuration
EXIT_LOCKED = 3  # another run holds the output root's lock
