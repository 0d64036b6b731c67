"""Built-in context engines, one module each."""
