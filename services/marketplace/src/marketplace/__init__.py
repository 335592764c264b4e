"""MIM3 marketplace: TM Forum Open APIs (TMF620, TMF622, TMF632, TMF637) with ODRL terms."""

__version__ = "0.1.0"
