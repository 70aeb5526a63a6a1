"""Schemathesis hooks for the API test (crates/server/tests/schemathesis.rs).

The report upload takes an HTML document and the systems import a CSV file; schemathesis has no
serializer for either media type, so generated strings are sent as UTF-8 text.
"""

import schemathesis


@schemathesis.serializer("text/html", "text/csv")
def text(ctx, value):
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")
