"""The browser console's static files (``static/``), served by ``citu.blueprints.ui``."""
