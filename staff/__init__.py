"""Staff: accounts and sessions, who may call what, the API kit and the staff pages' shared assets."""

from pathlib import Path

# The staff pages' shared static files (staff.js), served at /staff/.
STAFF_STATIC = Path(__file__).parent / "static"
