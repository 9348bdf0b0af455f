"""Domain types and rules. Pure: no database, no HTTP, no clock reads, no randomness."""
