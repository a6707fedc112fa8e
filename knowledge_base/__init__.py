"""Knowledge base: FAQ entries and the matcher that answers customer questions from them.

The public functions here are what the dialogue actions call; storage and matching details stay inside.
"""

from knowledge_base.faq import Answer, FaqEntry, answer, default_kb, load_entries

__all__ = ["Answer", "FaqEntry", "answer", "default_kb", "load_entries"]
