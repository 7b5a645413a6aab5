"""Flows the SuperTokens guides make their users write by hand, built in."""
