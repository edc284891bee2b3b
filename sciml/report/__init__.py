"""The run report: each domain writes a :class:`Section` (JSON); ``sciml report`` renders
all sections into one self-contained HTML page (figures embedded, provenance included)."""

from sciml.report.section import Figure, Section, Table, read_section, write_section

__all__ = ["Figure", "Section", "Table", "read_section", "write_section"]
