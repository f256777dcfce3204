"""Django's internal field types (``Field.get_internal_type()``) grouped by the value they hold."""

# The range of a 64-bit integer column (BigIntegerField, BigAutoField).
MIN_BIGINT, MAX_BIGINT = -(2**63), 2**63 - 1

INTEGER_FIELD_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)
