"""HTTP transport: parse, authenticate, call a service, render. No store or engine access."""
