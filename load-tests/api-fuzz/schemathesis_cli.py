"""Runs schemathesis's command line, as its own `schemathesis` script does, after importing
the transports that it would otherwise import on its first request, in a worker thread.

On Python 3.11 that late import once failed with "SystemError: AST constructor recursion
depth mismatch", and the operation under test was reported as an error. anyio's lazy
importer parses its own source into an AST when first imported, and 3.11's AST builder
can report such a mismatch spuriously, mostly seen in threaded programs (CPython issue
gh-106905). Importing in the main thread, once, before any worker starts, takes that parse
out of the workers.
"""

import sys

import schemathesis.transport.asgi  # noqa: F401
import schemathesis.transport.requests  # noqa: F401
import schemathesis.transport.wsgi  # noqa: F401
from schemathesis.cli import schemathesis

if __name__ == "__main__":
    sys.argv[0] = "schemathesis"
    sys.exit(schemathesis())
