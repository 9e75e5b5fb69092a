# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The one exception type the collection's logic raises for input a person must fix."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class DovError(ValueError):
    """Bad input or state, with a message that names the problem and the fix.

    Modules turn it into ``fail_json(msg=str(error))``; nothing on disk has changed when it
    is raised, because every check runs before the first write.
    """
