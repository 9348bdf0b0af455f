"""Use cases. Each public function is one transaction; the only place layers meet."""
