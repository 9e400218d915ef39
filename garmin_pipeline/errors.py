"""Errors whose message is one line that says what went wrong and what to do about it."""


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose; its message is shown as is."""


class SourceAuthError(PipelineError):
    """The source refused our credentials; retrying would only risk a lock-out."""


class RateLimitedError(PipelineError):
    """The source answered 429; we stop instead of hammering it (and never re-login)."""


class SourceUnavailableError(PipelineError):
    """The source failed even after bounded retries (5xx, network, timeouts)."""


class EndpointUnavailableError(SourceUnavailableError):
    """The source answered 404 for a feed's endpoint: Garmin removed or renamed it. The feed
    stops for this sync (it is not asked again day by day or window by window); the others
    go on, and the next sync tries it again."""


class MalformedPayloadError(PipelineError):
    """The source answered 200 with a body we cannot parse; `body` keeps it for quarantine."""

    def __init__(self, message: str, body: bytes = b"") -> None:
        super().__init__(message)
        self.body = body


class UnsafeValueError(PipelineError, ValueError):
    """A value from the source would name a path outside the data directory, or is absurd."""


class PayloadParseError(PipelineError, ValueError):
    """A stored payload (JSON body, FIT file, zip) cannot be parsed: its message is one line
    naming the payload, the field or byte, and what was wrong; the lake quarantines it."""
