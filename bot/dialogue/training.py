"""Train the Rasa model when its inputs changed; otherwise reuse the last one."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

CONFIG_FILE = PROJECT_ROOT / "config.yml"
TRAINING_DIR = PROJECT_ROOT / "training_data"
DOMAIN_FILE = TRAINING_DIR / "domain.yml"
# Code that becomes part of the model graph: changing it must retrain too.
COMPONENT_SOURCES = (PROJECT_ROOT / "bot" / "nlu", PROJECT_ROOT / "core" / "language.py")


def model_inputs(config: Path = CONFIG_FILE) -> list[Path]:
    """Return every file whose content determines the trained model, in a stable order."""
    files = [config, *sorted(TRAINING_DIR.rglob("*.yml"))]
    for source in COMPONENT_SOURCES:
        files.extend(sorted(source.rglob("*.py")) if source.is_dir() else [source])
    return files


def fingerprint(config: Path = CONFIG_FILE) -> str:
    """Return a hash of the model's inputs and the Rasa version that trains it."""
    import rasa

    digest = hashlib.sha256(f"rasa={rasa.__version__}\n".encode())
    for path in model_inputs(config):
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive file lock, so `make run` and `make test` never train into one file at once."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def model_path(model_dir: Path, config: Path = CONFIG_FILE) -> Path:
    """Return where the model for the current inputs lives (it may not exist yet)."""
    return model_dir / f"model-{fingerprint(config)}.tar.gz"


def ensure_model(model_dir: Path, force: bool = False, config: Path = CONFIG_FILE) -> Path:
    """Return the model for the current inputs, training it first if it does not exist."""
    target = model_path(model_dir, config)
    with _exclusive(model_dir / ".train.lock"):
        if target.exists() and not force:
            log.info("model up to date", extra={"model": target.name})
            return target
        from rasa.model_training import train

        log.info("training model", extra={"model": target.name})
        started = time.monotonic()
        result = train(
            domain=str(DOMAIN_FILE),
            config=str(config),
            training_files=[str(TRAINING_DIR)],
            output=str(model_dir),
            fixed_model_name=target.name.removesuffix(".tar.gz"),
            force_training=True,
        )
        if result.code != 0 or not result.model or not Path(result.model).exists():
            raise RuntimeError(f"Rasa training failed (code {result.code})")
        log.info(
            "model trained",
            extra={"model": target.name, "seconds": round(time.monotonic() - started, 1)},
        )
        for old in model_dir.glob("model-*.tar.gz"):
            if old != target:
                old.unlink(missing_ok=True)
        return target
