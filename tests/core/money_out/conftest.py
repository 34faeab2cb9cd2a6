from tests.core.money_out.money_day import mtn

__all__ = ["mtn"]
