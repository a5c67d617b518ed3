"""``python -m idp.i18n update|check [package ...]``: see :mod:`idp.i18n.catalogues`."""

import sys

from idp.i18n.catalogues import main

sys.exit(main(sys.argv))
