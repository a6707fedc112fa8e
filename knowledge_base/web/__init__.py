"""The knowledge base's HTTP side: the editors' JSON API and the /kb page."""
