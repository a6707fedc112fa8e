"""The kernel: message types, ports, Redis keys and connection, tasks, the ownership state machine."""
