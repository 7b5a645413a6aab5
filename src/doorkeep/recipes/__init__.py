"""Recipes: the overridable, in-process API of doorkeep (functions now; API handlers in web)."""
