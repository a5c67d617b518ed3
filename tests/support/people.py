"""The demo's people (keyholder.demo.data), as tests sign in with them."""

from keyholder.demo.data import PEOPLE

BY_NAME = {person.name: person for person in PEOPLE}
PHILIP, MARY = BY_NAME["Philip Smith"], BY_NAME["Mary Jones"]
THOMAS, EMMA = BY_NAME["Thomas Taylor"], BY_NAME["Emma Taylor"]
