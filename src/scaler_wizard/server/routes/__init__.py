"""One router per resource; each handler parses, calls one function, returns a body."""
