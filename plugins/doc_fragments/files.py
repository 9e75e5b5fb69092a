# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # File options shared by the modules that write files.
    DOCUMENTATION = r'''
options:
  owner:
    description:
      - Name or numeric id of the user that should own the files written.
      - Set on the temporary file before it is renamed into place, so the file never exists with
        another owner.
    type: str
  group:
    description:
      - Name or numeric id of the group that should own the files written.
    type: str
  backup:
    description:
      - Keep a copy of a file before it is replaced, next to it, named
        C(<file>.<pid>.<date>@<time>~).
    type: bool
    default: false
'''

    # The attributes block every module of the collection declares.
    ATTRIBUTES = r'''
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
    details: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    details: Shows before/after of what matters (subject, serial, dates, fingerprints), never key material.
'''
