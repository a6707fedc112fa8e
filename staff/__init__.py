"""Staff: accounts and sessions, who may call what, the API kit and the staff pages' shared assets."""
