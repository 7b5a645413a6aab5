"""`doorkeep serve`'s application: it composes the built `Doorkeep` with the Starlette
middleware, the CDI and the health routes (server.py), and decides where the core API
listens (listeners.py). It sits beside the CLI, above the app and the integrations."""
