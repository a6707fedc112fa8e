"""Custom Rasa NLU components of the engine."""
