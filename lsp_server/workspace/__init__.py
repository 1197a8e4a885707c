"""Workspace context (issue 19): a live cross-file index of definitions and its retrieval for a cursor.

files.py walks the workspace folders (gitignore, excluded folders, size and binary limits, symlinks kept
inside); outline.py extracts definitions and imports with tree-sitter; index.py holds them; watcher.py
keeps the index current with watchfiles on a thread; retrieval.py picks what a cursor needs and renders
the block that goes before the prefix; service.py is what the server holds.
"""
