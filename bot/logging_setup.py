"""Logging: readable text for people, one JSON object per line for log pipelines (LOG_FORMAT=json)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from core.privacy import mask_personal

# Attributes every LogRecord has; anything else was passed with ``extra=`` and belongs in the output.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object with its ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a single JSON line."""
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # Whatever a message, an extra or a traceback quotes, no phone or card number reaches the log.
        return mask_personal(json.dumps(entry, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """Format a record as one line of text followed by its ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as ``time level logger: message key=value ...``."""
        line = super().format(record)
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        return mask_personal(f"{line} {extras}" if extras else line)


def configure(log_format: str, level: str) -> None:
    """Send all logs to stderr in ``log_format`` ("text" or "json") at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Rasa and TensorFlow are chatty at INFO; their warnings still come through.
    third_party_level = max(logging.WARNING, logging.getLevelName(level))
    for noisy in ("rasa", "tensorflow", "absl", "h5py", "matplotlib", "asyncio", "jieba"):
        logging.getLogger(noisy).setLevel(third_party_level)
    quiet_rasa_structlog(third_party_level)


def quiet_rasa_structlog(level: int = logging.WARNING) -> None:
    """Filter Rasa's structlog events below ``level``.

    Rasa logs through structlog too, unfiltered unless its CLI configured it: every prediction would
    print policy debug dumps to stdout, with message text in them.
    """
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(level)
