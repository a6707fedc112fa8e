"""Reports on the running service: Prometheus metrics today; service events, roll-ups and scorecards next."""
