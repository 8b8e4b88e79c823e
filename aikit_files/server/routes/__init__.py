"""The handlers, one module a feature: ``/files``, ``/uploads``, and Azure's ``/files/import``."""
