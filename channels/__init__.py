"""Channel adapters: each turns a platform's webhook or socket into `Inbound` and sends `Outbound`."""
