"""What ``/openapi.json`` says about each route: request fields, the envelope of each answer
with its typed ``data``, and the error answers.

Routes keep validating their input by hand where the old service's error texts are the
contract, so request models are often lenient (``str | None``) at run time. ``RequestModel``
lets them still document the truth: a field's docstring is its description, and
``documented_required`` lists the fields a client must send. ``responds`` documents (it never
validates) the answers of a route.
"""

from __future__ import annotations

from citu.apidoc.base import (
    CituOpenAPIProvider,
    ErrorData,
    RequestModel,
    document_stream,
    envelope,
    responds,
)

__all__ = [
    "CituOpenAPIProvider",
    "ErrorData",
    "RequestModel",
    "document_stream",
    "envelope",
    "responds",
]
