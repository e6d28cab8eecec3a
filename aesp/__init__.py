"""aesp: an AESP/GRID control plane (Host, runtimes, clients) for governed AI tool calls."""
