"""Protocol knowledge shared by both ends of a link (neither a PLC's nor an MES's)."""
