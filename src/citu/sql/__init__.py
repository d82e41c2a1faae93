"""Running model-written SQL safely: the guard that parses it and the read-only runner."""
