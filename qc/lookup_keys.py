"""How support's spellings of an identifier are made comparable: one pure function.

"# 10 042", "10042" and "#10042" are the same order; "ab-1234" and "AB-1234" the same
tracking number. Stored identifiers keep their spelling; their keys (customer_order.number_key
and ref_key, parcel.tracking_key) are kept beside them, so a lookup is an indexed equality.
"""


def lookup_key(text: str) -> str:
    """`text` without whitespace anywhere, without leading '#', in upper case."""
    return "".join(text.split()).lstrip("#").upper()
