"""Code shared by every zip function of webshop-backend (the `SharedLayer`)."""
