"""Token-bucket rate limits per client: in process, or in Redis across replicas."""
