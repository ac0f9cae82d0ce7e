"""Repairs to a page's HTML before it is parsed, where lxml and browsers read it differently."""

from __future__ import annotations

import re

_END_TAGS = re.compile(r"</(?:body|html)\s*>", re.I)
# Markup left after the first </body> or </html> beyond this many characters is content, not
# a trailing newline or comment.
_TRAILING_SLACK = 512


def reopen_body(html: str) -> str:
    """The page with ``</body>`` and ``</html>`` end tags removed when markup follows them.

    Templates that print the document's end before the article ("</header></body></html>",
    then the story) are common; browsers, by the HTML standard, put what follows back into
    the body, while lxml leaves it out of the tree, so the article was lost. Without those
    end tags, lxml closes the document at the end of the text, as browsers read it.
    """
    first = _END_TAGS.search(html)
    if first is None or len(html) - first.end() <= _TRAILING_SLACK:
        return html
    return _END_TAGS.sub("", html)
