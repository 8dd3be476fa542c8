"""The conversation's logic, free of HTTP and SDK plumbing: the guide, tips, D-MER, safety routing."""
