"""The Textual TUI (installed as kernelscope.tui): a view over saved runs. Imports the core and
textual, never capture code. Entry point: `kernelscope tui RUN [RUN ...]`."""
