# Rules of the materials domain (filled in by its issue).
