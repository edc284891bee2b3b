# Rules of the proteins domain (filled in by its issue).
