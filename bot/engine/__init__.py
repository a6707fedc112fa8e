"""The engine: the router, intake, delivery, mailboxes and the sweep."""
