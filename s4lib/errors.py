"""The one exception type whose message a user can act on."""


class S4Error(Exception):
    """A problem the user can fix; the message names the file or value and the fix."""
