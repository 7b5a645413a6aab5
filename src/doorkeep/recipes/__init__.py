"""Recipes: doorkeep's overridable, in-process API (SuperTokens' recipes).

Each recipe has functions (business operations over the core) and API handlers (what
the frontend API's endpoints do), both replaceable by an override (see base.py). The
session recipe also owns the request half of sessions: the token transport, the
`Session` of a request, and the claims other recipes register with it. Recipes sit
above core and below the flows; they import neither the flows nor the web faces.
"""
