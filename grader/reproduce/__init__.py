"""`dlgrader reproduce`: run a project's experiment under pinned seeds, several times,
fingerprint it, and judge each claim."""
