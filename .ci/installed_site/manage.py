#!/usr/bin/env python
"""A Django project that uses cdp_bridge as installed from the wheel (see .ci/run)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
