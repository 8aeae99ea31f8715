"""The staff console (工作台): server-rendered pages in Chinese for the people at the stations, a process of its
own (``doorstep run console``) that acts on the four services only through their public HTTP APIs, with each
user's own bearer token, so it can be replaced like any other client.

``app`` the WSGI application; ``web`` how a page is declared and checked; ``pages`` the pages, one module per
job; ``apis`` the services' APIs; ``users`` and ``security`` staff users, sessions, CSRF and lockout;
``store`` its own database (users, sessions); ``formatting`` times, money and codes in words; ``server``
serving it. The ``doorstep user`` commands are in ``doorstep/users.py``.
"""
