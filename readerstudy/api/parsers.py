"""The API's one body parser: JSON, refused with a 400 when nested too deep to parse safely or when a string
holds a lone surrogate.

Python's json module recurses once per nesting level, so a small body of brackets ([[[[…]]]]) raises
RecursionError, which DRF does not turn into a 400. And it decodes an escape such as "\\ud800" to half of a
UTF-16 pair, which is no character: such a string can be neither stored nor written back in a response.
"""

import io
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# The workstation's deepest body (an event batch: object, events list, event, payload and its values) is a few
# levels deep; 32 leaves room for any payload while staying far below Python's recursion limit (1000).
MAX_DEPTH = 32

# A JSON string with its escapes (an unterminated one runs to the end), or a bracket. Strings are matched
# whole so that the brackets inside them are not counted; the regular expression runs in C, one pass.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def json_strings(value):
    """Every key and string of parsed JSON (its depth is bounded by the parser)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def nested_deeper_than(text, limit):
    """Whether the arrays and objects of JSON `text` nest more than `limit` levels, found without recursion."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


class DepthLimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if nested_deeper_than(text, MAX_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:  # whatever the scan let through, too deep a body is the client's fault
            raise ParseError("JSON parse error - nested too deep") from None
        # A valid pair was joined into one character while parsing: any surrogate left is a lone one.
        if any(_SURROGATE.search(text) for text in json_strings(data)):
            raise ParseError("JSON parse error - a string holds a lone surrogate (\\udXXX), which is no character")
        return data
