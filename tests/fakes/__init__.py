"""Local servers that play third-party APIs in their real wire format and record what they received."""
