"""The one exception type the command line turns into a one-line error."""


class MemlibError(Exception):
    """A user-facing error: bad parameters, missing data, unreadable input."""
