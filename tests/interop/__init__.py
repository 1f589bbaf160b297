"""Independent protocol clients the interop tests run in their own processes."""
