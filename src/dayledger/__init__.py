"""dayledger: prepaid days for partner-sold API channels."""

__version__ = "0.1.0"
