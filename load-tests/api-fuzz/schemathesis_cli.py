"""Runs schemathesis's command line, as its own `schemathesis` script does, after importing
the transports that it would otherwise import on its first request, in a worker thread.

Python 3.11 can fail that late import with "SystemError: AST constructor recursion depth
mismatch": anyio's lazy importer compiles its own source deep inside hypothesis's stack,
and the operation under test is then reported as an error. Importing at the top of the
main thread, once, before any worker starts, avoids it.
"""

import sys

import schemathesis.transport.asgi  # noqa: F401
import schemathesis.transport.requests  # noqa: F401
import schemathesis.transport.wsgi  # noqa: F401
from schemathesis.cli import schemathesis

if __name__ == "__main__":
    sys.argv[0] = "schemathesis"
    sys.exit(schemathesis())
