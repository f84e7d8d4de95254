"""The application layer: the use cases the command line and the portal share (search, locating lenders,
requests, views, citing and exporting), above the domain packages and below `balis/` and `portal/`."""
