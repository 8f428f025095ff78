"""Check digits for the redaction tests' generated numbers: Luhn (cards, IMEIs, ICCIDs) and
GS1 (EAN/GTIN barcodes, FedEx tracking numbers)."""

from __future__ import annotations


def luhn_completed(body: str) -> str:
    """`body` and the Luhn check digit that makes it valid."""
    total = 0
    for position, digit in enumerate(reversed(body)):
        value = int(digit)
        if position % 2 == 0:  # doubled: the check digit to come is position 0
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return body + str(-total % 10)


def gs1_completed(body: str) -> str:
    """`body` and GS1's check digit (weights 3 and 1 from the right): GTINs, FedEx's."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str(-total % 10)
