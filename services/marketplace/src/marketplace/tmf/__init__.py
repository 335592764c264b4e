"""Pure TM Forum Open API logic (TMF630 guidelines): no web or database framework here."""
