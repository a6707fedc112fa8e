"""Setup and lint helpers run by make (not part of the engine)."""
