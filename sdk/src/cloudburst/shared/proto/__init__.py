"""Compatibility modules for programs written against the original client's protobufs."""
