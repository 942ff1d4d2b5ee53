# Python exceptions for the API layer. OSError(errno, ...) builds the matching
# subclass (ConnectionResetError, ConnectionRefusedError, TimeoutError,
# BrokenPipeError, ...), so callers catch what they would catch for sockets.

cdef object _os_error(int err, str what):
    return OSError(err, f"{_os.strerror(err)}: {what}")
