"""Operator tools: what `io-relay topics` (and later doctor, dlq, status) do."""
