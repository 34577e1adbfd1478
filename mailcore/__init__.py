"""Pure protocol code: no Django, no sockets. Bytes in, values out."""
