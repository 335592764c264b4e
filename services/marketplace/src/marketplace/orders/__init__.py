"""TMF622 product orders, their fulfilment into TMF637 products and entitlements."""
