"""The grading core: an assignment's spec, its seeded cases, the run in a sandbox and
the trusted verdict (spec → cases → run → compare → hints → result). No database, no
HTTP: the service and the CLI both call `grade`."""
