"""Reading request bodies: a form is well-formed, or the request is a 400.

Werkzeug reads a malformed body as an empty form, and keeps bytes that are
not UTF-8 as ``%XX`` escapes in the values. A controller would then act on
a form that is not what was sent; here both are a Bad Request instead, so
the pipeline answers 400 before touching the database. So is a NUL
character, which no form field means and PostgreSQL cannot store.

Only POST requests have a form: a body sent with GET or HEAD is ignored.
HEAD is handled as GET (:attr:`HttpRequest.is_head`); the response's body is
dropped by Werkzeug. Multipart fields are decoded by Werkzeug's own parser
(with replacement characters for bytes that are not UTF-8: the server's own
forms are all URL-encoded). Only Werkzeug's public API is used.
"""

from __future__ import annotations

from typing import IO, Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.sansio.http import parse_cookie
from werkzeug.utils import cached_property
from werkzeug.wrappers import Request as WerkzeugRequest

URLENCODED = "application/x-www-form-urlencoded"


class StrictFormDataParser(FormDataParser):
    """Werkzeug's parser, not silent, decoding URL-encoded forms as strict UTF-8."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs["silent"] = False
        super().__init__(*args, **kwargs)

    def parse(self, stream: IO[bytes], mimetype: str, content_length: int | None,
              options: dict[str, str] | None = None) -> Any:
        try:
            if mimetype == URLENCODED:
                stream, form, files = self._parse_strict(stream, content_length)
            else:
                stream, form, files = super().parse(stream, mimetype, content_length, options)
        except ValueError as exc:  # includes UnicodeDecodeError
            raise BadRequest("malformed form data") from exc
        if any("\x00" in key or "\x00" in value for key, value in form.items(multi=True)):
            raise BadRequest("NUL character in form data")
        return stream, form, files

    def _parse_strict(self, stream: IO[bytes], content_length: int | None) -> Any:
        limit = self.max_form_memory_size
        if limit is not None and content_length is not None and content_length > limit:
            raise RequestEntityTooLarge()
        body = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise RequestEntityTooLarge()
        items = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                          encoding="utf-8", errors="strict")
        return stream, self.cls(items), self.cls()


class HttpRequest(WerkzeugRequest):
    """Werkzeug's request with :class:`StrictFormDataParser`, HEAD seen as GET."""

    form_data_parser_class = StrictFormDataParser

    def __init__(self, environ: dict, *args: Any, **kwargs: Any):
        super().__init__(environ, *args, **kwargs)
        #: a HEAD request, which controllers see as GET (:attr:`method`)
        self.is_head = self.method == "HEAD"
        if self.is_head:
            self.method = "GET"

    @property
    def want_form_data_parsed(self) -> bool:
        return self.method == "POST"

    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """The cookies, parsed as Werkzeug does, from the one ``Cookie`` header a WSGI
        server hands over (Werkzeug looks it up among every header of the request)."""
        return parse_cookie(self.environ.get("HTTP_COOKIE", ""), cls=self.dict_storage_class)

    def check_query(self) -> None:
        """A NUL character in the query string is a 400, as in a form."""
        if any("\x00" in key or "\x00" in value for key, value in self.args.items(multi=True)):
            raise BadRequest("NUL character in the query string")
