"""ASGI layers in front of Connexion, outermost first: request context, request id,
security headers, contract documents, CORS (service/patches/allowlist_cors.py), body
limit; and, inside Connexion before validation, the body's media type."""
