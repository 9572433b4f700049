"""The application and its cross-cutting layers."""
