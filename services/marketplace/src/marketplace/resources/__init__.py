"""The general TM Forum resource mechanism: one repository, service and router for all."""
