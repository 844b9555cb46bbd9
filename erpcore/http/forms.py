"""Reading request bodies: a form is well-formed, or the request is a 400.

Werkzeug reads a malformed body as an empty form, and keeps bytes that are
not UTF-8 as ``%XX`` escapes in the values. A controller would then act on
a form that is not what was sent; here both are a Bad Request instead, so
the pipeline answers 400 and the transaction changes nothing. So is a NUL
character, which no form field means and PostgreSQL cannot store. (Multipart
fields are still decoded with replacement characters, as Werkzeug does:
the server's own forms are all URL-encoded.)
"""

from __future__ import annotations

from typing import IO, Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.wrappers import Request as WerkzeugRequest


class StrictFormDataParser(FormDataParser):
    """Werkzeug's parser, not silent, decoding URL-encoded forms as strict UTF-8."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs["silent"] = False
        super().__init__(*args, **kwargs)

    def parse(self, stream: IO[bytes], mimetype: str, content_length: int | None,
              options: dict[str, str] | None = None) -> Any:
        try:
            stream, form, files = super().parse(stream, mimetype, content_length, options)
        except ValueError as exc:  # includes UnicodeDecodeError
            raise BadRequest("malformed form data") from exc
        if any("\x00" in key or "\x00" in value for key, value in form.items(multi=True)):
            raise BadRequest("NUL character in form data")
        return stream, form, files

    def _parse_urlencoded(self, stream: IO[bytes], mimetype: str, content_length: int | None,
                          options: dict[str, str]) -> Any:
        if (self.max_form_memory_size is not None and content_length is not None
                and content_length > self.max_form_memory_size):
            raise RequestEntityTooLarge()
        items = parse_qsl(stream.read().decode("utf-8"), keep_blank_values=True,
                          encoding="utf-8", errors="strict")
        return stream, self.cls(items), self.cls()


class HttpRequest(WerkzeugRequest):
    """Werkzeug's request with :class:`StrictFormDataParser`."""

    form_data_parser_class = StrictFormDataParser

    def check_query(self) -> None:
        """A NUL character in the query string is a 400, as in a form."""
        if any("\x00" in key or "\x00" in value for key, value in self.args.items(multi=True)):
            raise BadRequest("NUL character in the query string")
