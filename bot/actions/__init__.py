"""Custom Rasa actions (rasa_sdk).

The engine runs them in-process; ``rasa run actions --actions bot.actions`` can serve them too.
"""
