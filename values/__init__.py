"""How extracts write values, read the same way by the schemas that judge them and the
transforms that type them: dates, booleans, whole numbers, money, codes in any case, UPNs
and identifiers. Below both schemas/ and transforms/, so neither imports the other's
internals and no package imports in a circle."""
