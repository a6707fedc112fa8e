"""The handoff HTTP side: thin handlers over the handoff services, and the agent console page."""
