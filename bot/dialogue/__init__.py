"""Rasa glue: the in-process agent and action endpoint, its Redis stores, training."""
