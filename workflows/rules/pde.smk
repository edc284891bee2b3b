# Rules of the pde domain (filled in by its issue).
