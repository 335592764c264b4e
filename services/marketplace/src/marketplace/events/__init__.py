"""Event hubs (TMF630 part 2) and the outbox that delivers events over HTTP."""
