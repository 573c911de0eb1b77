"""Low-level meters: clocks, memory, energy, peaks, the lifeline to a parent, and the statistics over samples."""
