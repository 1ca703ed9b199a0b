"""A shared engine for a class: one model behind Ray Serve, many notebooks drawing against it.

``wire`` is the safe message format, ``service`` the plain-Python request handling and batching (no
Ray), ``client`` the remote Backend, ``app`` the thin Ray Serve deployment on top.
"""
