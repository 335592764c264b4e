"""ODRL 2.2 terms of offerings: pure logic, no web or database framework."""
