"""Project package of the example store: settings, URLs, WSGI/ASGI entry points."""
