"""The admin's CDP dashboard: each scope's exports, webhook deliveries and segment sizes.

``figures`` reads them from the records the app keeps (a fixed number of queries), ``charts``
lays them out as SVG, ``page`` puts one scope's figures into charts and tables, and ``admin``
gives the page its place, its URL and its permissions in the admin.
"""
