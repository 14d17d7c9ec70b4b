"""The domain's vocabularies, stored as plain strings in the database."""

from enum import StrEnum


class Role(StrEnum):
    PACKER = "packer"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    SUPPORT = "support"
    ADMIN = "admin"


class ParcelStatus(StrEnum):
    PACKING = "packing"
    PASSED = "passed"
    HELD = "held"
    SHIPPED = "shipped"
    VOIDED = "voided"


class ScanSource(StrEnum):
    SCANNER = "scanner"
    CAMERA = "camera"
    MANUAL = "manual"


class ScanResult(StrEnum):
    ACCEPTED = "accepted"
    SERIAL_NEEDED = "serial_needed"
    WRONG_ITEM = "wrong_item"
    OVER_QUANTITY = "over_quantity"
    UNKNOWN_CODE = "unknown_code"
    DUPLICATE_SERIAL = "duplicate_serial"
    EXPIRED_ITEM = "expired_item"


class DefectKind(StrEnum):
    MISSING_ITEM = "missing_item"
    WRONG_ITEM = "wrong_item"
    EXTRA_ITEM = "extra_item"
    DAMAGED_ITEM = "damaged_item"
    SHORT_SHIP = "short_ship"
    KIT_INCOMPLETE = "kit_incomplete"
    SERIAL_MISMATCH = "serial_mismatch"
    EXPIRED_ITEM = "expired_item"
    WEIGHT_MISMATCH = "weight_mismatch"
    PHOTO_MISMATCH = "photo_mismatch"


class Stage(StrEnum):
    CAUGHT = "caught"
    ESCAPED = "escaped"
