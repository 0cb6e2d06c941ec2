"""kernelscope: what did quantization actually do to my run?

The core package (trace model, rules, classification, aggregation, run format, CLI). It imports
neither torch nor textual; capture lives in kernelscope.tracers, the TUI in kernelscope.tui.
"""

__version__ = "0.1.0"
