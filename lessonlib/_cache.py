"""Keras's downloads and cache folder, shared by the loaders that fall back to offline copies."""

import contextlib
import io
import os
import socket

DOWNLOAD_TIMEOUT_SECONDS = 20


def keras_home():
    """Return Keras's cache folder as its `get_file` chooses it.

    `$KERAS_HOME` when set, else `~/.keras`, or `/tmp/.keras` when that home is not writable.
    Like Keras when it is imported, it creates the folder if it can. Unlike Keras, which reads
    `KERAS_HOME` once at import, it reads the variable at each call: set it before importing
    Keras, or the two may disagree.
    """
    if "KERAS_HOME" in os.environ:
        base = os.path.expanduser(os.environ["KERAS_HOME"])
    else:
        home = os.path.expanduser("~")
        base = os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    with contextlib.suppress(OSError):
        os.makedirs(base, exist_ok=True)
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp", ".keras")
    return base


def first_line(error):
    """An exception's first line, at most 120 characters, for a one-line message."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


@contextlib.contextmanager
def quiet_download():
    """Let Keras download with a timeout, showing its messages only if the download succeeds.

    Offline, Keras would print "Downloading data from ..." just before failing; held back,
    the student reads one line about what happened instead of two that contradict each other.
    """
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
    messages = io.StringIO()
    try:
        with contextlib.redirect_stdout(messages):
            yield
    finally:
        socket.setdefaulttimeout(previous)
    print(messages.getvalue(), end="")
