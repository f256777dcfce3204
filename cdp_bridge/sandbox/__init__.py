"""A local stand-in for Raptor's CDP: ``manage.py cdp_sandbox`` (see docs/sandbox.md).

The data flows as with the real CDP: the site's exports arrive at the Streaming API
(``streaming``), tracked events at the tracking endpoint (``tracking``), audiences are defined in
a YAML file (``audience_file``) and evaluated over what was received (``audiences``), and
activations call the site's webhook as the CDP does (``activation``). ``store`` keeps the state
in a SQLite file of its own; ``app`` answers HTTP requests and renders the web UI; ``server``
runs it all.
"""
