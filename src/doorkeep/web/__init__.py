"""HTTP faces of doorkeep: the frontend API (FDI), the core API (CDI) and pages."""
