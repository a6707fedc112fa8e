"""The engine core: settings, message types, router and state machine, Rasa glue, CLI."""

import os

# Rasa sends usage telemetry to its servers unless told not to; the engine never phones home.
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
# Rasa's training cache defaults to ./.rasa/cache; keep all runtime data under var/.
os.environ.setdefault(
    "RASA_CACHE_DIRECTORY", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "rasa-cache")
)
