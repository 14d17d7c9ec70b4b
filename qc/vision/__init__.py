"""Pure image work: numpy arrays in, plain values out (shared with the station agent)."""
